namespace OrleansReplication.Examples;

/// <summary>
/// The README's example of an Orleans user's grain made replicated: a shopping cart per user
/// whose state survives its silo's crash warm on a standby (<c>ShoppingCartGrain</c>).
/// </summary>
[Alias("OrleansReplication.Examples.IShoppingCartGrain")]
public interface IShoppingCartGrain : IGrainWithStringKey
{
    /// <summary>Adds <paramref name="quantity"/> of <paramref name="sku"/>; answers once a standby holds the change.</summary>
    [Alias("Add")]
    Task<CartView> AddAsync(string sku, int quantity);

    /// <summary>The cart as its state holds it.</summary>
    [Alias("Get")]
    Task<CartView> GetAsync();

    /// <summary>Empties the cart (removes its state).</summary>
    [Alias("Clear")]
    Task ClearAsync();
}

/// <summary>A cart's lines, its state's version, and the silo whose activation answered.</summary>
[GenerateSerializer]
[Immutable]
[Alias("OrleansReplication.Examples.CartView")]
public sealed record CartView([property: Id(0)] IReadOnlyDictionary<string, int> Lines, [property: Id(1)] long Version, [property: Id(2)] string Silo);

/// <summary>
/// The same cart as an Orleans application keeps it today, with <c>[PersistentState]</c>
/// on Orleans' ADO.NET grain storage "store": the cold baseline the replicated cart is
/// measured against (after its silo dies it reactivates elsewhere and reads its row back).
/// </summary>
[Alias("OrleansReplication.Examples.IStoredShoppingCartGrain")]
public interface IStoredShoppingCartGrain : IGrainWithStringKey
{
    /// <summary>Adds <paramref name="quantity"/> of <paramref name="sku"/>; answers once the row is written.</summary>
    [Alias("Add")]
    Task<CartView> AddAsync(string sku, int quantity);

    /// <summary>The cart as its state holds it.</summary>
    [Alias("Get")]
    Task<CartView> GetAsync();
}
