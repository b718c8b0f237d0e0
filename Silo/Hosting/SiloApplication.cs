using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Hosting;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using OrleansReplication.Grains;
using OrleansReplication.Grains.State;
using OrleansReplication.Silo.Http;
using OrleansReplication.Silo.Listeners;
using OrleansReplication.Silo.Membership;
using OrleansReplication.Silo.Partitions;
using OrleansReplication.Silo.Placement;
using OrleansReplication.Silo.Replication;
using OrleansReplication.Silo.Storage;

namespace OrleansReplication.Silo.Hosting;

/// <summary>Composes a silo: services, the HTTP listener (Orleans listens on the silo and gateway ports; silos talk over Orleans) and endpoints.</summary>
public static class SiloApplication
{
    /// <summary>Builds a silo from command-line-style configuration overrides (keys like <c>Silo:Instance</c>).</summary>
    public static WebApplication Create(IEnumerable<KeyValuePair<string, string?>> overrides, Action<WebApplicationBuilder>? configure = null)
    {
        // No reload-on-change: the options are validated once at start, and the file watcher it needs
        // would wake on every write of a SQLite file under the content root (about 10% of a silo's CPU).
        var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions { Args = ["--hostBuilder:reloadConfigOnChange=false"] });
        builder.Configuration.AddInMemoryCollection(overrides);
        builder.AddSilo();
        configure?.Invoke(builder);
        var app = builder.Build();
        app.UseHttpApi();
        return app;
    }

    /// <summary>Adds the Orleans silo with state replication, and the silo's listeners, to <paramref name="builder"/>.</summary>
    public static WebApplicationBuilder AddSilo(this WebApplicationBuilder builder)
    {
        builder.UseOrleans(silo => silo.ConfigureFromSiloOptions(builder.Configuration).AddStateReplication());
        var services = builder.Services;
        services.Configure<HostOptions>(o => o.ShutdownTimeout = TimeSpan.FromSeconds(30));

        builder.WebHost.ListenOnSiloHttpPort();
        services.AddHttpApi();

        // Per-request framework logs drown the operator's view; warnings and errors still show.
        builder.Logging.AddFilter("Microsoft.AspNetCore", LogLevel.Warning);

        // Orleans narrates start-up and every option at Information; its warnings and errors still show.
        // Its silo's "not running with ServerGC" notes are a deliberate choice here (see the csproj).
        // ("Orleans." with the dot: a filter matches by prefix, and our own categories start with "OrleansReplication".)
        builder.Logging.AddFilter("Orleans.", LogLevel.Warning);
        builder.Logging.AddFilter("Orleans.Runtime.Silo", LogLevel.Error);

        // Orleans' placement retries run through Polly, which logs every attempt at Information.
        builder.Logging.AddFilter("Polly", LogLevel.Warning);

        // Orleans' GrainService base narrates its start and ring ranges under our grain service's category.
        builder.Logging.AddFilter("OrleansReplication.Silo.Replication.ReplicaService", LogLevel.Warning);
        builder.Logging.AddSimpleConsole(o =>
        {
            o.SingleLine = true;
            o.TimestampFormat = "HH:mm:ss.fff ";
        });
        return builder;
    }
}
