using Microsoft.Extensions.DependencyInjection;
using Orleans;
using Orleans.Runtime;
using Orleans.Storage;
using OrleansReplication.Silo.Storage;
using OrleansReplication.Tests.Infrastructure;

namespace OrleansReplication.Tests.Storage;

/// <summary>
/// The grain storage "store" of an embedded silo: Orleans' ADO.NET provider itself, on the SQLite
/// file beside the replication's, running the queries the silo stored (<c>sqlite-grain-storage.sql</c>).
/// A row's version is its ETag; a stale write or clear is Orleans' <see cref="InconsistentStateException"/>;
/// a cleared row reads as none, also for a value-type state.
/// </summary>
[Collection(SharedClusterCollection.Name)]
public sealed class SqliteGrainStorageTests(OrleansClusterFixture fixture)
{
    [Fact]
    public async Task WriteReadClear_VersionIsTheETag_StaleWritesConflict()
    {
        var storage = fixture.Cluster.Silos[0].Services.GetRequiredKeyedService<IGrainStorage>(ReplicationSiloConfigurator.GrainStorage);
        var other = fixture.Cluster.Silos[1].Services.GetRequiredKeyedService<IGrainStorage>(ReplicationSiloConfigurator.GrainStorage);
        var grain = GrainId.Create("counter", "sqlite-" + Guid.NewGuid().ToString("N"));

        var first = new GrainState<int>(1);
        await storage.WriteStateAsync("count", grain, first);
        Assert.Equal("1", first.ETag);
        await Assert.ThrowsAsync<InconsistentStateException>(() => storage.WriteStateAsync("count", grain, new GrainState<int>(9))); // a second first write

        first.State = 2;
        await storage.WriteStateAsync("count", grain, first);
        Assert.Equal("2", first.ETag);
        await Assert.ThrowsAsync<InconsistentStateException>(() => storage.WriteStateAsync("count", grain, new GrainState<int>(9) { ETag = "1" })); // stale

        var read = new GrainState<int>();
        await other.ReadStateAsync("count", grain, read); // another silo, the same file
        Assert.Equal((2, "2", true), (read.State, read.ETag, read.RecordExists));

        await other.ClearStateAsync("count", grain, read);
        await Assert.ThrowsAsync<InconsistentStateException>(() => storage.ClearStateAsync("count", grain, first)); // stale
        var cleared = new GrainState<int>();
        await storage.ReadStateAsync("count", grain, cleared); // a cleared row reads as none
        Assert.Equal((0, null, false), (cleared.State, cleared.ETag, cleared.RecordExists));
        var again = new GrainState<int>(7);
        await storage.WriteStateAsync("count", grain, again);  // and a first write takes it
        Assert.Equal("4", again.ETag);

        var absent = new GrainState<int>();
        await storage.ReadStateAsync("count", GrainId.Create("counter", "never-written"), absent);
        Assert.Equal((false, null), (absent.RecordExists, absent.ETag));
    }

    [Theory]
    [InlineData("Data Source=/data/replication.db", "Data Source=/data/replication.grains.db")]
    [InlineData("Data Source=cluster;Mode=Memory;Cache=Shared", "Data Source=cluster;Mode=Memory;Cache=Shared")]
    public void ConnectionStringBeside_SiblingFileOrTheSameMemoryDatabase(string state, string expected) =>
        Assert.Equal(expected, SqliteGrainStorage.ConnectionStringBeside(state));
}
