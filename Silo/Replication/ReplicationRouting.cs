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
    private readonly ConcurrentDictionary<(int Partition, SiloIncarnation Standby), (Partition Owner, NetworkReplicaLink Link)> _links = new();
    private readonly ILogger _linkLogger = loggerFactory.CreateLogger<NetworkReplicaLink>();

    public void Register(SiloMessageRouter router) =>
        router.Register(MessageType.ReplicationAck, (FramedConnection connection, in Frame frame) =>
        {
            var ack = ReplicationAck.Parser.ParseFrom(frame.Body);
            if (connection.Peer is SiloIncarnation standby && _links.TryGetValue((ack.Partition, standby), out var entry))
            {
                entry.Link.OnAck(ack);
            }
        });

    /// <summary>Adds the links the map asks for and removes the ones it no longer does.</summary>
    public async Task ApplyMapAsync(PartitionMap map, MembershipSnapshot membership)
    {
        var wanted = new HashSet<(int, SiloIncarnation)>();
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
                var owner = partitions.Partitions[p];

                // A partition object replaced by a promotion starts with no links (the old one
                // closed its own when it stopped): attach fresh ones.
                if (_links.TryGetValue((p, standby), out var existing) && existing.Owner != owner)
                {
                    _links.TryRemove((p, standby), out _);
                }

                if (!_links.ContainsKey((p, standby)))
                {
                    var link = new NetworkReplicaLink(pool, standby, record.SiloEndpoint, options.Value, _linkLogger, time);
                    if (_links.TryAdd((p, standby), (owner, link)))
                    {
                        owner.AddLink(link);
                    }
                }
            }
        }

        foreach (var (key, entry) in _links)
        {
            if (!wanted.Contains(key) && _links.TryRemove(key, out _))
            {
                await entry.Owner.RemoveLinkAsync(entry.Link).ConfigureAwait(false);
            }
        }
    }

    /// <summary>Drops every link (the silo is stopping; partitions flush to the store after).</summary>
    public async Task StopAsync()
    {
        foreach (var (key, entry) in _links)
        {
            if (_links.TryRemove(key, out _))
            {
                await entry.Owner.RemoveLinkAsync(entry.Link).ConfigureAwait(false);
            }
        }
    }
}
