using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using OrleansReplication.Silo.Hosting;
using OrleansReplication.Silo.Membership;
using OrleansReplication.Silo.Partitions;
using OrleansReplication.Silo.Placement;

namespace OrleansReplication.Silo.Replication;

/// <summary>
/// Turns the partition map into replica links: for every partition this silo leads, one
/// <see cref="NetworkReplicaLink"/> per standby (added and removed as the map changes), and routes
/// one <see cref="StandbySender"/> per standby silo that carries them all (it routes the acks back).
/// Only the map loop calls it (one call at a time).
/// </summary>
internal sealed class ReplicationRouting(
    PartitionManager partitions,
    IReplicaServiceClient replicaServices,
    MembershipService membership,
    SiloIdentity identity,
    IOptions<ReplicationOptions> options,
    ILoggerFactory loggerFactory,
    TimeProvider time)
{
    private readonly ConcurrentDictionary<(int Partition, SiloIncarnation Standby), (Partition Owner, NetworkReplicaLink Link)> _links = new();
    private readonly Dictionary<SiloIncarnation, StandbySender> _senders = [];
    private readonly ILogger _linkLogger = loggerFactory.CreateLogger<NetworkReplicaLink>();
    private readonly ILogger _senderLogger = loggerFactory.CreateLogger<StandbySender>();

    /// <summary>Adds the links the map asks for and removes the ones it no longer does.</summary>
    public async Task ApplyMapAsync(PartitionMap map, MembershipSnapshot snapshot)
    {
        var wanted = new HashSet<(int, SiloIncarnation)>();
        for (var p = 0; p < partitions.PartitionCount && p < map.Assignments.Count; p++)
        {
            if (map[p] is not { } assignment || assignment.Primary != identity.Address)
            {
                continue;
            }

            // Acknowledgements rest on the standby a failover would promote, by the rule every silo
            // promotes by (PlacementPolicy.PromotionCandidate); none (a cold takeover): only on the store ("").
            var candidate = PlacementPolicy.PromotionCandidate(assignment, snapshot.IsGone);
            foreach (var standby in assignment.Standbys)
            {
                var record = snapshot.Silos.FirstOrDefault(s => s.Address == standby && s.Status != SiloStatus.Dead);
                if (record?.Silo is null)
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

                // A partition that does not serve (stopping, fenced, not started yet) gets its links
                // once it does, in a later round; the other partitions' links go on regardless.
                if (!_links.ContainsKey((p, standby)) && owner.Status == PartitionStatus.Serving)
                {
                    var link = new NetworkReplicaLink(SenderTo(standby, record.Silo), standby, options.Value, _linkLogger, time);
                    if (_links.TryAdd((p, standby), (owner, link)))
                    {
                        try
                        {
                            owner.AddLink(link);
                        }
                        catch (ReplicaUnavailableException)
                        {
                            _links.TryRemove((p, standby), out _); // it stopped meanwhile
                        }
                    }
                }
            }

            partitions.Partitions[p].SetPromotionCandidate(assignment.Standbys.Count == 0 ? null : candidate?.ToString() ?? string.Empty);
        }

        foreach (var (key, entry) in _links)
        {
            if (!wanted.Contains(key) && _links.TryRemove(key, out _))
            {
                await entry.Owner.RemoveLinkAsync(entry.Link).ConfigureAwait(false);
            }
        }

        // A standby silo no partition replicates to any more (it died, or the map moved away).
        foreach (var (standby, sender) in _senders.Where(s => s.Value.LinkCount == 0 && !wanted.Any(w => w.Item2 == s.Key)).ToList())
        {
            _senders.Remove(standby);
            await sender.DisposeAsync().ConfigureAwait(false);
        }
    }

    private StandbySender SenderTo(SiloIncarnation standby, Orleans.Runtime.SiloAddress silo)
    {
        if (!_senders.TryGetValue(standby, out var sender))
        {
            sender = new StandbySender(
                replicaServices.GetService(silo), standby.ToString(), identity.Address.ToString(), options.Value, reason => membership.Suspect(standby, reason), () => membership.CheckSiloPort(standby), _senderLogger);
            _senders.Add(standby, sender);
        }

        return sender;
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

        foreach (var sender in _senders.Values)
        {
            await sender.DisposeAsync().ConfigureAwait(false);
        }

        _senders.Clear();
    }
}
