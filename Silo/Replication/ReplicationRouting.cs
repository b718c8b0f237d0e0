using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using OrleansReplication.Protocol;
using OrleansReplication.Silo.Hosting;
using OrleansReplication.Silo.Membership;
using OrleansReplication.Silo.Partitions;
using OrleansReplication.Silo.Placement;
using OrleansReplication.Silo.Transport;

namespace OrleansReplication.Silo.Replication;

/// <summary>
/// Turns the partition map into replica links: for every partition this silo leads, one
/// <see cref="NetworkReplicaLink"/> per standby (added and removed as the map changes), and routes
/// the standbys' acks back to their links.
/// </summary>
internal sealed class ReplicationRouting(
    PartitionManager partitions,
    SiloConnectionPool pool,
    SiloIdentity identity,
    IOptions<ReplicationOptions> options,
    ILoggerFactory loggerFactory,
    TimeProvider time)
{
    private readonly ConcurrentDictionary<(int Partition, SiloAddress Standby), NetworkReplicaLink> _links = new();
    private readonly ILogger _linkLogger = loggerFactory.CreateLogger<NetworkReplicaLink>();

    public void Register(SiloMessageRouter router) =>
        router.Register(MessageType.ReplicationAck, (FramedConnection connection, in Frame frame) =>
        {
            var ack = ReplicationAck.Parser.ParseFrom(frame.Body);
            if (connection.Peer is SiloAddress standby && _links.TryGetValue((ack.Partition, standby), out var link))
            {
                link.OnAck(ack);
            }
        });

    /// <summary>Adds the links the map asks for and removes the ones it no longer does.</summary>
    public async Task ApplyMapAsync(PartitionMap map, MembershipSnapshot membership)
    {
        var wanted = new HashSet<(int, SiloAddress)>();
        for (var p = 0; p < partitions.PartitionCount && p < map.Assignments.Count; p++)
        {
            if (map[p] is not { } assignment || assignment.Primary != identity.Address)
            {
                continue;
            }

            foreach (var standby in assignment.Standbys)
            {
                var record = membership.Silos.FirstOrDefault(s => s.Address == standby && s.Status != SiloStatus.Dead);
                if (record is null)
                {
                    continue;
                }

                wanted.Add((p, standby));
                if (!_links.ContainsKey((p, standby)))
                {
                    var link = new NetworkReplicaLink(pool, standby, record.SiloEndpoint, options.Value, _linkLogger, time);
                    if (_links.TryAdd((p, standby), link))
                    {
                        partitions.Partitions[p].AddLink(link);
                    }
                }
            }
        }

        foreach (var (key, link) in _links)
        {
            if (!wanted.Contains(key) && _links.TryRemove(key, out _))
            {
                await partitions.Partitions[key.Partition].RemoveLinkAsync(link).ConfigureAwait(false);
            }
        }
    }

    /// <summary>Drops every link (the silo is stopping; partitions flush to the store after).</summary>
    public async Task StopAsync()
    {
        foreach (var (key, link) in _links)
        {
            if (_links.TryRemove(key, out _))
            {
                await partitions.Partitions[key.Partition].RemoveLinkAsync(link).ConfigureAwait(false);
            }
        }
    }
}
