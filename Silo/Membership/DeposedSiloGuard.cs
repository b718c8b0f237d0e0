using Microsoft.Extensions.Logging;
using Orleans;
using Orleans.Runtime;
using OrleansReplication.Silo.Diagnostics;
using OrleansReplication.Silo.Hosting;

namespace OrleansReplication.Silo.Membership;

/// <summary>
/// A primary whose standby answers at a newer epoch lost that partition without handing it off:
/// the cluster declared this silo dead and promoted the standby. Orleans stops such a silo once it
/// reads so in the membership table; one that cannot reach the table (cut from the store) would
/// keep its gateway and hold the calls pinned to it for as long as the cut lasts. So on that
/// evidence the silo reads the table at once, and when it cannot within <see cref="Timeout"/> it
/// stops the way Orleans does (<see cref="IFatalErrorHandler"/>): what it acknowledged is on the
/// standbys that lead now, and its clients move to other gateways.
/// </summary>
internal sealed partial class DeposedSiloGuard(IClusterMembershipService orleans, IFatalErrorHandler fatal, SiloIdentity identity, ILogger<DeposedSiloGuard> logger)
{
    /// <summary>How long the membership table may take to answer before the silo stops.</summary>
    public static readonly TimeSpan Timeout = TimeSpan.FromSeconds(3);

    private readonly ILogger _logger = logger;
    private int _checking;

    /// <summary>A standby refused partition <paramref name="partition"/>'s records: it follows an epoch above this primary's <paramref name="epoch"/>.</summary>
    public void OnDeposed(int partition, long epoch)
    {
        if (Interlocked.Exchange(ref _checking, 1) == 0)
        {
            _ = CheckAsync(partition, epoch);
        }
    }

    private async Task CheckAsync(int partition, long epoch)
    {
        try
        {
            // Orleans stops the silo itself if the table says it is dead ("I have been told I am dead").
            using var timeout = new CancellationTokenSource(Timeout);
            await orleans.Refresh(cancellationToken: timeout.Token).AsTask().WaitAsync(Timeout).ConfigureAwait(false);
            LogAlive(identity.Address.ToString(), partition, epoch);
        }
        catch (Exception ex)
        {
            var reason = $"Silo {identity.Address} was deposed as partition {partition}'s primary (epoch {epoch}; its standby follows a newer one) and cannot read the membership table ({ex.GetType().Name}: {ex.Message}): the cluster declared it dead. It stops, as Orleans stops a silo told it is dead; start it again once it reaches the store.";
            LogStopping(reason);
            fatal.OnFatalException(this, reason, null);
        }
        finally
        {
            Volatile.Write(ref _checking, 0);
        }
    }

    [LoggerMessage(EventId = LogEvents.DeposedSiloStopping, Level = LogLevel.Error, Message = "{Reason}")]
    private partial void LogStopping(string reason);

    [LoggerMessage(EventId = LogEvents.DeposedSiloAlive, Level = LogLevel.Warning, Message = "Silo {Silo} was deposed as partition {Partition}'s primary (epoch {Epoch}; its standby follows a newer one) yet reads itself alive in the membership table; it follows the partition map, which names the new primary.")]
    private partial void LogAlive(string silo, int partition, long epoch);
}
