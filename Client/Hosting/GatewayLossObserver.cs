namespace OrleansReplication.Client;

/// <summary>
/// Records each gateway connection the Orleans client loses (its silo died or left), so the
/// replicators' calls sent over it are sent again at once instead of waiting for their timeout.
/// </summary>
internal sealed class GatewayLossObserver(ConnectionLosses losses) : IClusterConnectionStatusObserver
{
    public void NotifyGatewayCountChanged(int currentNumberOfGateways, int previousNumberOfGateways, bool connectionRecovered)
    {
        if (currentNumberOfGateways < previousNumberOfGateways)
        {
            losses.Report();
        }
    }

    public void NotifyClusterConnectionLost() => losses.Report();
}
