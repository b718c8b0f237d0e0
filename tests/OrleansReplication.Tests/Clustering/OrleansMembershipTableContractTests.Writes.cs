using Orleans;
using Orleans.Runtime;

namespace OrleansReplication.Tests.Clustering;

/// <summary>The writes: version and etag checks, and what each write changes.</summary>
public abstract partial class OrleansMembershipTableContractTests
{
    [Fact]
    public async Task InsertRow_CurrentVersion_StoresTheRowAndBumpsTheVersion()
    {
        var table = await InitializedTableAsync("cluster-a");
        var entry = NewEntry();

        Assert.True(await table.InsertRowAsync(entry, (await table.ReadAllAsync()).Version.Next()));

        var data = await table.ReadRowAsync(entry.SiloAddress);
        Assert.Equal(1, data.Version.Version);
        Assert.NotEqual("0", data.Version.VersionEtag);
        AssertStoredFields(entry, Assert.Single(data.Members).Item1);
    }

    [Fact]
    public async Task InsertRow_SameSiloAgain_FailsAndKeepsTheVersion()
    {
        var table = await InitializedTableAsync("cluster-a");
        var entry = NewEntry();
        Assert.True(await table.InsertRowAsync(entry, (await table.ReadAllAsync()).Version.Next()));

        Assert.False(await table.InsertRowAsync(entry, (await table.ReadAllAsync()).Version.Next()), "a duplicate insert succeeded");

        var data = await table.ReadAllAsync();
        Assert.Equal(1, data.Version.Version);
        Assert.Single(data.Members);
    }

    [Fact]
    public async Task InsertRow_StaleTableVersion_FailsAndChangesNothing()
    {
        var table = await InitializedTableAsync("cluster-a");
        var stale = (await table.ReadAllAsync()).Version.Next();
        Assert.True(await table.InsertRowAsync(NewEntry(), stale));

        var late = NewEntry();
        Assert.False(await table.InsertRowAsync(late, stale), "an insert at a stale table version succeeded");

        Assert.Empty((await table.ReadRowAsync(late.SiloAddress)).Members);
        Assert.Equal(1, (await table.ReadAllAsync()).Version.Version);
    }

    [Fact]
    public async Task InsertRow_ManyTablesAtOnceAtOneVersion_ExactlyOneSucceeds()
    {
        var tables = new List<IMembershipTable>();
        for (var i = 0; i < 8; i++)
        {
            tables.Add(await InitializedTableAsync("cluster-a"));
        }

        var version = (await tables[0].ReadAllAsync()).Version.Next();
        var results = await Task.WhenAll(tables.Select(table => Task.Run(() => table.InsertRowAsync(NewEntry(), version))));

        Assert.Single(results, ok => ok);
        var data = await tables[0].ReadAllAsync();
        Assert.Single(data.Members);
        Assert.Equal(1, data.Version.Version);
    }

    [Fact]
    public async Task UpdateRow_CurrentVersionAndETag_WritesTheRowAndBumpsTheVersion()
    {
        var (table, entry) = await InsertedAsync();
        var (row, etag, version) = await ReadOneAsync(table, entry.SiloAddress);
        row.Status = SiloStatus.Active;
        row.IAmAliveTime = Now.AddSeconds(7);

        Assert.True(await table.UpdateRowAsync(row, etag, version.Next()), "UpdateRow with the current version and etag failed");

        var (stored, _, after) = await ReadOneAsync(table, entry.SiloAddress);
        Assert.Equal(version.Version + 1, after.Version);
        Assert.NotEqual(version.VersionEtag, after.VersionEtag);
        AssertStoredFields(row, stored);
    }

    [Fact]
    public async Task UpdateRow_StaleTableVersion_FailsAndChangesNothing()
    {
        var (table, entry) = await InsertedAsync();
        var (row, etag, version) = await ReadOneAsync(table, entry.SiloAddress);
        Assert.True(await table.InsertRowAsync(NewEntry(), version.Next()));
        row.Status = SiloStatus.Dead;

        Assert.False(await table.UpdateRowAsync(row, etag, version.Next()), "an update at a stale table version succeeded");

        var (stored, _, after) = await ReadOneAsync(table, entry.SiloAddress);
        Assert.Equal(SiloStatus.Joining, stored.Status);
        Assert.Equal(version.Version + 1, after.Version);
    }

    [Fact]
    public async Task UpdateRow_StaleRowETag_FailsAndChangesNothing()
    {
        var (table, entry) = await InsertedAsync();
        var (row, staleETag, version) = await ReadOneAsync(table, entry.SiloAddress);
        Assert.True(await table.UpdateRowAsync(row, staleETag, version.Next()));
        var (_, currentETag, current) = await ReadOneAsync(table, entry.SiloAddress);
        Assert.NotEqual(staleETag, currentETag);
        row.Status = SiloStatus.Dead;

        Assert.False(await table.UpdateRowAsync(row, staleETag, current.Next()), "an update with a stale row etag succeeded");

        var (stored, etag, after) = await ReadOneAsync(table, entry.SiloAddress);
        Assert.Equal(SiloStatus.Joining, stored.Status);
        Assert.Equal(currentETag, etag);
        Assert.Equal(current, after);
    }

    [Fact]
    public async Task UpdateRow_SuspectTimes_RoundTrip()
    {
        var (table, entry) = await InsertedAsync();
        var (row, etag, version) = await ReadOneAsync(table, entry.SiloAddress);
        row.AddSuspector(NewSilo("10.0.0.2"), Now.AddSeconds(1));
        row.AddSuspector(NewSilo("10.0.0.3", 22222), Now.AddSeconds(2));

        Assert.True(await table.UpdateRowAsync(row, etag, version.Next()));

        var (stored, _, _) = await ReadOneAsync(table, entry.SiloAddress);
        Assert.Equal(row.SuspectTimes!.Select(s => (s.Item1, s.Item2)), stored.SuspectTimes!.Select(s => (s.Item1, s.Item2)));
    }

    [Fact]
    public async Task UpdateIAmAlive_ChangesOnlyIAmAliveTime()
    {
        var (table, entry) = await InsertedAsync();
        var (_, etag, version) = await ReadOneAsync(table, entry.SiloAddress);

        // What Orleans' MembershipTableManager passes: the address and the time, nothing else.
        await table.UpdateIAmAliveAsync(new MembershipEntry { SiloAddress = entry.SiloAddress, IAmAliveTime = Now.AddMinutes(1) });

        var (stored, etagAfter, after) = await ReadOneAsync(table, entry.SiloAddress);
        Assert.Equal(Now.AddMinutes(1), stored.IAmAliveTime);
        Assert.Equal(version, after);
        Assert.Equal(etag, etagAfter);
        entry.IAmAliveTime = stored.IAmAliveTime;
        AssertStoredFields(entry, stored);
    }

    /// <summary>An initialized table of "cluster-a" holding one Joining silo.</summary>
    private protected async Task<(IMembershipTable Table, MembershipEntry Entry)> InsertedAsync()
    {
        var table = await InitializedTableAsync("cluster-a");
        var entry = NewEntry();
        Assert.True(await table.InsertRowAsync(entry, (await table.ReadAllAsync()).Version.Next()));
        return (table, entry);
    }

    /// <summary>Reads one silo's row as Orleans does before an update: the entry, its etag and the table version.</summary>
    private protected static async Task<(MembershipEntry Entry, string ETag, TableVersion Version)> ReadOneAsync(IMembershipTable table, SiloAddress silo)
    {
        var data = await table.ReadRowAsync(silo);
        var (entry, etag) = Assert.Single(data.Members);
        return (entry, etag, data.Version);
    }
}
