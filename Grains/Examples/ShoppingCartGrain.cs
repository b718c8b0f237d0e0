using OrleansReplication.Examples;
using OrleansReplication.Grains.State;

namespace OrleansReplication.Grains.Examples;

/// <summary>
/// An Orleans user's grain made replicated by one attribute: where an Orleans cart takes
/// <c>[PersistentState("cart", "store")] IPersistentState&lt;Cart&gt;</c> (<see cref="StoredShoppingCartGrain"/>),
/// this one takes <c>[ReplicatedState("cart", storageName: "store")] IReplicatedState&lt;Cart&gt;</c>.
/// Nothing else changes: a cart the storage held is taken in at its first activation and every
/// change is written back behind the replicas; after its silo dies, the grain answers again from
/// its standby's warm copy, with no storage read.
/// </summary>
internal sealed class ShoppingCartGrain([ReplicatedState("cart", storageName: "store")] IReplicatedState<Cart> cart) : Grain, IShoppingCartGrain
{
    public async Task<CartView> AddAsync(string sku, int quantity)
    {
        cart.State.Lines[sku] = cart.State.Lines.GetValueOrDefault(sku) + quantity;
        await cart.WriteStateAsync(SafetyLevel.Applied);
        return View();
    }

    public Task<CartView> GetAsync() => Task.FromResult(View());

    public Task ClearAsync() => cart.ClearStateAsync();

    private CartView View() => new(new Dictionary<string, int>(cart.State.Lines), cart.Version, GrainContext.Address.SiloAddress!.ToString());
}

/// <summary>The cart's state: serialized by Orleans, as any grain state.</summary>
[GenerateSerializer]
[Alias("OrleansReplication.Examples.Cart")]
public sealed class Cart
{
    /// <summary>Quantity by SKU.</summary>
    [Id(0)]
    public Dictionary<string, int> Lines { get; set; } = [];
}
