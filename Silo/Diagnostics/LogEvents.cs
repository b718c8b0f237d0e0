namespace OrleansReplication.Silo;

/// <summary>Event ids of the silo's logs, grouped by area. A public contract: never renumber.</summary>
internal static class LogEvents
{
    // Hosting 1000-1099
    public const int SiloStarted = 1000;
    public const int SiloStopping = 1001;
    public const int StoreOpened = 1002;
    public const int PartitionsLoaded = 1003;
    public const int GrainStorageReady = 1004;
    public const int StoreLoadRetried = 1005;

    // Grain runtime 1100-1199
    public const int ActivationFailed = 1100;
    public const int DeactivationFailed = 1101;

    // Partitions 1200-1299
    public const int CommitFailed = 1200;
    public const int PartitionFenced = 1201;
    public const int PartitionReloaded = 1202;
    public const int PartitionAssigned = 1203;
    public const int PartitionMapRace = 1204;
    public const int PartitionMapReconcileFailed = 1205;
    public const int PartitionMapReconciled = 1223;
    public const int PartitionPromoted = 1206;
    public const int PartitionTakenCold = 1207;
    public const int PartitionDemoted = 1208;
    public const int PartitionHandedOff = 1209;
    public const int PartitionFailingOver = 1215;
    public const int PartitionHandoffCompleted = 1216;
    public const int PartitionStaleAssignment = 1210;

    // Gateway 1300-1399
    public const int GatewayConnected = 1300;
    public const int GatewayDisconnected = 1301;
    public const int GatewayProtocolError = 1302;
    public const int GatewayRequestFailed = 1303;
    public const int GatewayCutMidFrame = 1304;

    // Membership 1500-1599
    public const int SiloJoined = 1500;
    public const int SiloLeft = 1501;
    public const int SiloDeclaredDead = 1502;
    public const int SelfDeclaredDead = 1503;
    public const int MembershipTableError = 1504;
    public const int SiloSuspected = 1505;
    public const int SuspicionCleared = 1506;
    public const int ClusterEvent = 1507;
    public const int SiloDraining = 1508;
    public const int DrainIncomplete = 1509;
    public const int HandoffAborted = 1510;
    public const int ProbeFailed = 1511;
    public const int MapNotifyFailed = 1512;
    public const int SiloDrained = 1513;
    public const int SiloDrainFailed = 1514;
    public const int HandoffTargetSlow = 1515;
    public const int SiloDrainSkipped = 1516;
    public const int DeposedSiloStopping = 1517;
    public const int DeposedSiloAlive = 1518;
    public const int UnreachablePeerDeclareFailed = 1519;
    public const int SiloDescribedByPeer = 1520;
    public const int SiloDescribeFailed = 1521;

    // Replication 1600-1699: see Replication/ReplicationLogEvents.cs

    // 1700-1799 belonged to the home-made silo transport (replication runs over Orleans now): never reuse.

    // HTTP 1400-1499
    public const int HttpRequestFailed = 1400;

    // Listeners 1800-1899
    public const int WatchResubscribed = 1800;
}
