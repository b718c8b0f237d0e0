using Microsoft.AspNetCore.Connections;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using OrleansReplication.Silo.Hosting;

namespace OrleansReplication.Silo.Gateway;

/// <summary>Kestrel connection handler of the gateway port: one <see cref="GatewaySession"/> per connection, alive as long as it.</summary>
internal sealed class GatewayConnectionHandler(GatewayDispatcher dispatcher, SiloIdentity identity, IOptions<SiloOptions> options, ILogger<GatewaySession> logger) : ConnectionHandler
{
    public override async Task OnConnectedAsync(ConnectionContext connection)
    {
        var session = new GatewaySession(connection, dispatcher, identity, options.Value, logger);
        await session.RunAsync().ConfigureAwait(false);
    }
}
