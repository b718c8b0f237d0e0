using OrleansReplication.Examples;

namespace OrleansReplication.Grains.Examples;

/// <summary>
/// <see cref="ShoppingCartGrain"/> as Orleans keeps it without replication: <c>[PersistentState]</c>
/// on the grain storage named "store" (Orleans' ADO.NET provider, which every silo has: on
/// PostgreSQL or on a SQLite file beside the replication's). Each activation reads its row; each write writes it. Its state is named "stored-cart":
/// Orleans' ADO.NET storage keys a row by state name and grain key, not by grain class, so the two
/// example carts under one key would otherwise share a row.
/// </summary>
internal sealed class StoredShoppingCartGrain([PersistentState("stored-cart", "store")] IPersistentState<Cart> cart) : Grain, IStoredShoppingCartGrain
{
    public async Task<CartView> AddAsync(string sku, int quantity)
    {
        cart.State.Lines[sku] = cart.State.Lines.GetValueOrDefault(sku) + quantity;
        await cart.WriteStateAsync();
        return View();
    }

    public Task<CartView> GetAsync() => Task.FromResult(View());

    private CartView View() => new(new Dictionary<string, int>(cart.State.Lines), long.TryParse(cart.Etag, out var version) ? version : 0, GrainContext.Address.SiloAddress!.ToString());
}
