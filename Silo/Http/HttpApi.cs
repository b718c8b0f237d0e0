using System.Net;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using OrleansReplication.Silo.Hosting;

namespace OrleansReplication.Silo.Http;

/// <summary>
/// The HTTP API as a piece any ASP.NET Core host of a silo adds: Kestrel on the silo's HTTP port,
/// problem+json answers, and the endpoints. The silo executable's web application uses it, and so
/// does a generic host (Orleans' test cluster silos host it through <c>ConfigureWebHost</c>).
/// </summary>
internal static class HttpApi
{
    /// <summary>Kestrel listens on <c>Silo:ListenAddress</c>, port <c>Silo:HttpPort</c> (HTTP/1.1).</summary>
    public static IWebHostBuilder ListenOnSiloHttpPort(this IWebHostBuilder web) => web.ConfigureKestrel((context, kestrel) =>
    {
        var options = kestrel.ApplicationServices.GetRequiredService<IOptions<SiloOptions>>().Value;
        var address = IPAddress.Parse(options.ListenAddress);
        kestrel.AddServerHeader = false;

        // Bodies are bounded per endpoint with a problem+json 413; this is only the backstop.
        kestrel.Limits.MaxRequestBodySize = options.MaxFrameBytes + (1024L * 1024);
        kestrel.Listen(address, options.EffectiveHttpPort, l => l.Protocols = HttpProtocols.Http1);
    });

    /// <summary>Problem details for every error answer, and the JSON shape of the API (nulls left out).</summary>
    public static IServiceCollection AddHttpApi(this IServiceCollection services)
    {
        services.AddRouting();
        services.AddProblemDetails(o => o.CustomizeProblemDetails = context =>
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
        services.ConfigureHttpJsonOptions(o => o.SerializerOptions.DefaultIgnoreCondition = System.Text.Json.Serialization.JsonIgnoreCondition.WhenWritingNull);
        return services;
    }

    /// <summary>The request pipeline: unknown routes, wrong methods and unexpected exceptions answer problem+json too.</summary>
    public static void UseHttpApi(this IApplicationBuilder app)
    {
        app.UseExceptionHandler();
        app.UseStatusCodePages();
        app.UseRouting();
        app.UseEndpoints(endpoints =>
        {
            endpoints.MapStateEndpoints();
            endpoints.MapWatchEndpoints();
            endpoints.MapClusterEndpoints();
            endpoints.MapClusterEventEndpoints();
            endpoints.MapAntiEntropyEndpoints();
        });
    }
}
