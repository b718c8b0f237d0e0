using OrleansReplication.Client;

namespace OrleansReplication.Testing.Processes.Nemesis;

/// <summary>
/// State the nemesis' writers never touch, so a joiner's catch-up takes long enough (a second or
/// so) to be caught in the middle of it.
/// </summary>
internal static class Ballast
{
    private const int Items = 4_000;
    private const int ItemBytes = 4_096;
    private const int Batch = 200;

    public static async Task WriteAsync(IEnumerable<SiloProcess> silos)
    {
        await using var client = (await ProcessCluster.ConnectClientsAsync(silos, 1, TimeSpan.FromSeconds(30)))[0];
        var replicator = client.GetReplicator<string>("ballast");
        var value = new string('b', ItemBytes);
        for (var i = 0; i < Items; i += Batch)
        {
            var items = Enumerable.Range(i, Batch).Select(n => KeyValuePair.Create(new ItemKey($"b{n}"), value));
            await replicator.SetStateItemsAsync(items, new WriteOptions { Safety = SafetyLevel.Applied });
        }
    }
}
