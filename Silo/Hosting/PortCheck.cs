using System.Net;
using System.Net.Sockets;

namespace OrleansReplication.Silo.Hosting;

/// <summary>
/// Finds a silo port that another process holds before the silo joins the cluster: a silo that
/// joined and then failed to open its HTTP port would leave a dead member behind and move
/// partitions for nothing. (A port taken between this check and the bind still fails the start.)
/// </summary>
internal static class PortCheck
{
    /// <summary>The first of the silo's ports that cannot be bound now, with its setting; null when all are free.</summary>
    public static string? FindInUse(SiloOptions options)
    {
        var address = IPAddress.Parse(options.ListenAddress);
        foreach (var (setting, port) in new[]
        {
            ("silo port (--silo-port)", options.EffectiveSiloPort),
            ("gateway port (--gateway-port)", options.EffectiveGatewayPort),
            ("HTTP port (--http-port)", options.EffectiveHttpPort),
        })
        {
            try
            {
                using var socket = new Socket(address.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
                socket.Bind(new IPEndPoint(address, port));
            }
            catch (SocketException ex) when (ex.SocketErrorCode is SocketError.AddressAlreadyInUse or SocketError.AccessDenied)
            {
                return $"The {setting} {address}:{port} is already in use ({ex.SocketErrorCode}).";
            }
        }

        return null;
    }

    /// <summary>Whether <paramref name="exception"/> or one of its inner exceptions says an address is in use.</summary>
    public static bool IsAddressInUse(Exception? exception)
    {
        for (var e = exception; e is not null; e = e.InnerException)
        {
            if (e is SocketException { SocketErrorCode: SocketError.AddressAlreadyInUse } || e.GetType().Name == "AddressInUseException")
            {
                return true;
            }

            if (e is AggregateException aggregate && aggregate.InnerExceptions.Any(IsAddressInUse))
            {
                return true;
            }
        }

        return false;
    }
}
