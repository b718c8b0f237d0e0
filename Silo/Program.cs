using System.CommandLine;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using OrleansReplication.Silo.Hosting;

// The silo executable: parse the command line into configuration overrides, then run.
// Every option is also settable from appsettings.json and environment variables (Silo__Instance=1).
var instance = new Option<int?>("--instance") { Description = "Added to every port, so several silos run on one machine (default 0)." };
var dataDir = new Option<string?>("--data-dir") { Description = "Folder of the embedded SQLite store (default ./data)." };
var storage = new Option<string?>("--storage") { Description = "Store provider: sqlite (default) or postgres." };
var connectionString = new Option<string?>("--connection-string") { Description = "ADO.NET connection string of the store (required for postgres)." };
var listenAddress = new Option<string?>("--listen-address") { Description = "Address the listeners bind (default 127.0.0.1; 0.0.0.0 in containers)." };
var advertisedAddress = new Option<string?>("--advertised-address") { Description = "Address peers and clients use to reach this silo (default: the listen address)." };
var siloPort = new Option<int?>("--silo-port") { Description = "Silo-to-silo port before --instance is added (default 11111)." };
var gatewayPort = new Option<int?>("--gateway-port") { Description = "Client gateway port before --instance is added (default 30000)." };
var httpPort = new Option<int?>("--http-port") { Description = "HTTP API port before --instance is added (default 8080)." };
var partitions = new Option<int?>("--partitions") { Description = "Partition count of a new cluster (default 64; fixed once the store holds a cluster)." };
var siloId = new Option<string?>("--silo-id") { Description = "This silo's id (default silo-<address>-<silo port>)." };

var root = new RootCommand("OrleansReplication silo: serves replicated component state over HTTP (8080) and the gateway protocol (30000).")
{
    instance, dataDir, storage, connectionString, listenAddress, advertisedAddress, siloPort, gatewayPort, httpPort, partitions, siloId,
};

root.SetAction(async (parse, cancellationToken) =>
{
    var overrides = new Dictionary<string, string?>();
    void Set<T>(Option<T> option, string key)
    {
        if (parse.GetValue(option) is { } value)
        {
            overrides["Silo:" + key] = Convert.ToString(value, System.Globalization.CultureInfo.InvariantCulture);
        }
    }

    Set(instance, nameof(SiloOptions.Instance));
    Set(dataDir, nameof(SiloOptions.DataDir));
    Set(storage, nameof(SiloOptions.Storage));
    Set(connectionString, nameof(SiloOptions.ConnectionString));
    Set(listenAddress, nameof(SiloOptions.ListenAddress));
    Set(advertisedAddress, nameof(SiloOptions.AdvertisedAddress));
    Set(siloPort, nameof(SiloOptions.SiloPort));
    Set(gatewayPort, nameof(SiloOptions.GatewayPort));
    Set(httpPort, nameof(SiloOptions.HttpPort));
    Set(partitions, nameof(SiloOptions.PartitionCount));
    Set(siloId, nameof(SiloOptions.SiloId));

    try
    {
        await using var app = SiloApplication.Create(overrides);
        if (PortCheck.FindInUse(app.Services.GetRequiredService<IOptions<SiloOptions>>().Value) is { } inUse)
        {
            Console.Error.WriteLine($"{inUse} Stop the other process or start this silo with another --instance.");
            return 3;
        }

        await app.RunAsync(cancellationToken);
        return 0;
    }
    catch (OptionsValidationException ex)
    {
        Console.Error.WriteLine("The silo's settings are invalid:");
        foreach (var failure in ex.Failures)
        {
            Console.Error.WriteLine("  - " + failure);
        }

        return 2;
    }
    catch (Exception ex) when (PortCheck.IsAddressInUse(ex))
    {
        Console.Error.WriteLine($"A port is already in use: {ex.Message} Stop the other process or start this silo with another --instance.");
        return 3;
    }
});

return await root.Parse(args).InvokeAsync();
