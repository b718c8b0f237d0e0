using Microsoft.Extensions.DependencyInjection;
using Orleans.Serialization;
using OrleansReplication.Silo.Storage;
using OrleansReplication.Tests.Infrastructure;

namespace OrleansReplication.Tests.Hosting;

/// <summary>
/// A silo's errors reach a grain's caller as themselves: the replication's typed errors carry the
/// store's exceptions as their inner exception (our own, Npgsql's), which Orleans' serializer
/// refuses by default (only Microsoft, System and Azure namespaces), so the caller got a
/// CodecNotFoundException instead (seen: a write during a drain, fenced by the new primary's epoch).
/// </summary>
[Collection(SharedClusterCollection.Name)]
public sealed class ErrorSerializationTests(OrleansClusterFixture fixture)
{
    [Fact]
    public void UnavailableWithTheStoresInnerException_SerializedOnTheSilo_CallerGetsTheTypedError()
    {
        var serializer = fixture.Cluster.Silos[0].Services.GetRequiredService<Serializer>();
        var fenced = new ReplicaUnavailableException("Partition 3 is no longer led by this silo (fenced at epoch 2); retry to reach its current primary.", TimeSpan.FromSeconds(1), new StaleEpochException(3, 2, 3, 10, 12));
        var npgsql = new ReplicaUnavailableException("Partition 3 could not commit the write.", TimeSpan.FromSeconds(1), new Npgsql.NpgsqlException("connection refused"));

        foreach (var error in new[] { fenced, npgsql })
        {
            var copy = Assert.IsType<ReplicaUnavailableException>(serializer.Deserialize<Exception>(serializer.SerializeToArray<Exception>(error)));
            Assert.Equal((error.Message, error.RetryAfter), (copy.Message, copy.RetryAfter));
            Assert.Equal(error.InnerException!.Message, copy.InnerException!.Message);
        }
    }
}
