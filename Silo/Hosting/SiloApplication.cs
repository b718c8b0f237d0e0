using System.Net;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
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

        // Unknown routes, wrong methods and unexpected exceptions answer problem+json too.
        app.UseExceptionHandler();
        app.UseStatusCodePages();
        app.MapStateEndpoints();
        app.MapWatchEndpoints();
        app.MapClusterEndpoints();
        app.MapClusterEventEndpoints();
        return app;
    }

    /// <summary>Adds the Orleans silo with state replication, and the silo's listeners, to <paramref name="builder"/>.</summary>
    public static WebApplicationBuilder AddSilo(this WebApplicationBuilder builder)
    {
        builder.UseOrleans(silo => silo.ConfigureFromSiloOptions(builder.Configuration).AddStateReplication());
        var services = builder.Services;
        services.Configure<HostOptions>(o => o.ShutdownTimeout = TimeSpan.FromSeconds(30));

        builder.WebHost.ConfigureKestrel((context, kestrel) =>
        {
            var options = kestrel.ApplicationServices.GetRequiredService<IOptions<SiloOptions>>().Value;
            var address = IPAddress.Parse(options.ListenAddress);
            kestrel.AddServerHeader = false;

            // Bodies are bounded per endpoint with a problem+json 413; this is only the backstop.
            kestrel.Limits.MaxRequestBodySize = options.MaxFrameBytes + (1024L * 1024);
            kestrel.Listen(address, options.EffectiveHttpPort, l => l.Protocols = HttpProtocols.Http1);
        });

        builder.Services.AddProblemDetails(o => o.CustomizeProblemDetails = context =>
        {
            var request = context.HttpContext.Request;
            context.ProblemDetails.Detail ??= context.ProblemDetails.Status switch
            {
                StatusCodes.Status404NotFound => $"No endpoint serves {request.Method} {request.Path}; the API is under /v1 (see the README).",
                StatusCodes.Status405MethodNotAllowed => $"{request.Method} is not allowed on {request.Path}.",
                StatusCodes.Status500InternalServerError => "The silo hit an internal error; it was logged. Retry, and report it if it persists.",
                _ => context.ProblemDetails.Title,
            };
        });
        builder.Services.ConfigureHttpJsonOptions(o => o.SerializerOptions.DefaultIgnoreCondition = System.Text.Json.Serialization.JsonIgnoreCondition.WhenWritingNull);
        // Per-request framework logs drown the operator's view; warnings and errors still show.
        builder.Logging.AddFilter("Microsoft.AspNetCore", LogLevel.Warning);

        // Orleans narrates start-up and every option at Information; its warnings and errors still show.
        // Its silo's "not running with ServerGC" notes are a deliberate choice here (see the csproj).
        // ("Orleans." with the dot: a filter matches by prefix, and our own categories start with "OrleansReplication".)
        builder.Logging.AddFilter("Orleans.", LogLevel.Warning);
        builder.Logging.AddFilter("Orleans.Runtime.Silo", LogLevel.Error);

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
