using System.Net;
using System.Net.Sockets;

namespace OrleansReplication.Testing.Processes;

/// <summary>The silo's default ports (the instance number is added to each) and a free instance to run on.</summary>
public static class SiloPorts
{
    /// <summary>The default silo-to-silo port.</summary>
    public const int BaseSiloPort = 11111;

    /// <summary>The default gateway port.</summary>
    public const int BaseGatewayPort = 30000;

    /// <summary>The default HTTP port.</summary>
    public const int BaseHttpPort = 8080;

    // The silo's validator accepts instances 0..1000; 0 is left to a developer's own silo.
    private const int MaxInstance = 1000;

    /// <summary>An instance number whose three ports are all free now (random, so parallel runs rarely pick the same).</summary>
    public static int FindFreeInstance()
    {
        for (var tries = 0; tries < 200; tries++)
        {
            var instance = Random.Shared.Next(1, MaxInstance + 1);
            if (IsFree(BaseSiloPort + instance) && IsFree(BaseGatewayPort + instance) && IsFree(BaseHttpPort + instance))
            {
                return instance;
            }
        }

        throw new InvalidOperationException($"Found no silo instance 1..{MaxInstance} whose ports {BaseSiloPort}+N, {BaseGatewayPort}+N and {BaseHttpPort}+N are all free.");
    }

    /// <summary>Whether <paramref name="port"/> can be bound on 127.0.0.1 right now.</summary>
    public static bool IsFree(int port)
    {
        try
        {
            using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
            socket.Bind(new IPEndPoint(IPAddress.Loopback, port));
            return true;
        }
        catch (SocketException)
        {
            return false;
        }
    }
}
