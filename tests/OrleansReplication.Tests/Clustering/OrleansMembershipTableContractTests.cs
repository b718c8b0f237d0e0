using System.Net;
using Orleans;
using Orleans.Messaging;
using Orleans.Runtime;

namespace OrleansReplication.Tests.Clustering;

/// <summary>
/// Orleans' <see cref="IMembershipTable"/> contract (and the matching <see cref="IGatewayListProvider"/>),
/// run against every store we cluster on: each subclass says how to open a table and a gateway list
/// for a cluster id on one fresh store per test. Times are whole seconds in UTC, as Orleans' own
/// table tests use, so every store round-trips them exactly.
/// </summary>
public abstract partial class OrleansMembershipTableContractTests : IAsyncLifetime
{
    private static int _generation;

    /// <summary>A time of this test run, whole seconds, UTC.</summary>
    private protected static readonly DateTime Now = WholeSeconds(DateTime.UtcNow);

    /// <summary>Opens a new, uninitialized table for <paramref name="clusterId"/>; every call reaches this test's store.</summary>
    private protected abstract Task<IMembershipTable> CreateTableAsync(string clusterId);

    /// <summary>Opens a new, uninitialized gateway list for <paramref name="clusterId"/> on this test's store.</summary>
    private protected abstract Task<IGatewayListProvider> CreateGatewayListProviderAsync(string clusterId);

    /// <inheritdoc />
    public virtual Task InitializeAsync() => Task.CompletedTask;

    /// <inheritdoc />
    public virtual Task DisposeAsync() => Task.CompletedTask;

    [Fact]
    public async Task InitializeMembershipTable_Twice_KeepsVersionZeroAndEmpty()
    {
        var table = await InitializedTableAsync("cluster-a");
        await table.InitializeMembershipTableAsync(tryInitTableVersion: true);

        var data = await table.ReadAllAsync();

        Assert.Empty(data.Members);
        Assert.Equal(0, data.Version.Version);
        Assert.True(await table.InsertRowAsync(NewEntry(), data.Version.Next()), "InsertRow after a repeated InitializeMembershipTable failed");
    }

    [Fact]
    public async Task InitializeMembershipTable_ConcurrentlyFromTwoTables_CreatesOneVersionRow()
    {
        var first = await CreateTableAsync("cluster-a");
        var second = await CreateTableAsync("cluster-a");

        await Task.WhenAll(
            Task.Run(() => first.InitializeMembershipTableAsync(tryInitTableVersion: true)),
            Task.Run(() => second.InitializeMembershipTableAsync(tryInitTableVersion: true)));

        var version = (await first.ReadAllAsync()).Version;
        Assert.Equal(0, version.Version);
        Assert.True(await first.InsertRowAsync(NewEntry(), version.Next()), "the first insert at version 0 failed");
        Assert.False(await second.InsertRowAsync(NewEntry(), version.Next()), "an insert at the version the other table already moved on from succeeded");
        Assert.Equal(1, (await second.ReadAllAsync()).Version.Version);
    }

    [Fact]
    public async Task ReadAll_InitializedWithoutVersionRow_ReturnsVersionZeroAndNoMembers()
    {
        await InitializedTableAsync("cluster-a");
        var other = await CreateTableAsync("cluster-without-version-row");
        await other.InitializeMembershipTableAsync(tryInitTableVersion: false);

        var data = await other.ReadAllAsync();

        Assert.Empty(data.Members);
        Assert.Equal(0, data.Version.Version);
        Assert.Equal("0", data.Version.VersionEtag);
        Assert.False(await other.InsertRowAsync(NewEntry(), data.Version.Next()), "an insert into a cluster without a version row succeeded");
    }

    [Fact]
    public async Task ReadRow_UnknownSilo_ReturnsTheVersionAndNoMembers()
    {
        var table = await InitializedTableAsync("cluster-a");
        Assert.True(await table.InsertRowAsync(NewEntry(), (await table.ReadAllAsync()).Version.Next()));

        var data = await table.ReadRowAsync(NewSilo());

        Assert.Empty(data.Members);
        Assert.Equal(1, data.Version.Version);
    }

    [Fact]
    public async Task ReadAll_ThreeSilos_ReturnsEachWithItsETagAndTheVersion()
    {
        var table = await InitializedTableAsync("cluster-a");
        var entries = new[] { NewEntry(), NewEntry(SiloStatus.Active), NewEntry(SiloStatus.Dead) };
        foreach (var entry in entries)
        {
            Assert.True(await table.InsertRowAsync(entry, (await table.ReadAllAsync()).Version.Next()));
        }

        var data = await table.ReadAllAsync();

        Assert.Equal(3, data.Version.Version);
        Assert.Equal(entries.Select(e => e.SiloAddress).Order(), data.Members.Select(m => m.Item1.SiloAddress).Order());
        Assert.All(data.Members, member => Assert.NotNull(member.Item2));
        foreach (var entry in entries)
        {
            AssertStoredFields(entry, data.TryGet(entry.SiloAddress)!.Item1);
        }
    }

    /// <summary>A table for <paramref name="clusterId"/>, initialized as a silo does at start.</summary>
    private protected async Task<IMembershipTable> InitializedTableAsync(string clusterId)
    {
        var table = await CreateTableAsync(clusterId);
        await table.InitializeMembershipTableAsync(tryInitTableVersion: true);
        return table;
    }

    /// <summary>A silo address no other test uses: a fresh generation.</summary>
    private protected static SiloAddress NewSilo(string ip = "10.0.0.1", int port = 11111) =>
        SiloAddress.New(new IPEndPoint(IPAddress.Parse(ip), port), Interlocked.Increment(ref _generation));

    /// <summary>A membership entry as a starting silo writes it, on a fresh silo address.</summary>
    private protected static MembershipEntry NewEntry(SiloStatus status = SiloStatus.Joining, int proxyPort = 30000, DateTime? time = null, SiloAddress? silo = null)
    {
        silo ??= NewSilo();
        return new MembershipEntry
        {
            SiloAddress = silo,
            Status = status,
            ProxyPort = proxyPort,
            HostName = "host-1",
            SiloName = $"silo-{silo.Generation}",
            StartTime = time ?? Now,
            IAmAliveTime = time ?? Now,
        };
    }

    /// <summary>Asserts the fields every store keeps (Orleans' ADO.NET table keeps no role or zones).</summary>
    private protected static void AssertStoredFields(MembershipEntry expected, MembershipEntry actual)
    {
        Assert.Equal(expected.SiloAddress, actual.SiloAddress);
        Assert.Equal(expected.Status, actual.Status);
        Assert.Equal(expected.ProxyPort, actual.ProxyPort);
        Assert.Equal(expected.HostName, actual.HostName);
        Assert.Equal(expected.SiloName, actual.SiloName);
        Assert.Equal(expected.StartTime, actual.StartTime);
        Assert.Equal(expected.IAmAliveTime, actual.IAmAliveTime);
        Assert.Equal(DateTimeKind.Utc, actual.IAmAliveTime.Kind);
    }

    private static DateTime WholeSeconds(DateTime time) => new(time.Ticks - (time.Ticks % TimeSpan.TicksPerSecond), DateTimeKind.Utc);
}
