using OrleansReplication.Silo.Partitions;
using OrleansReplication.Silo.Storage;

namespace OrleansReplication.Tests.Storage;

/// <summary>
/// The recorded requests in <c>or_requests</c> rows are protobuf bytes written by earlier releases:
/// the encoding must not change when the replication contracts do. The expected bytes were encoded
/// by hand from the field numbers of <c>ReplicatedRequestBlock</c>, <c>RequestId</c> and <c>ItemResult</c>.
/// </summary>
public sealed class StoredRequestEncodingTests
{
    // Block { requests: [ { request_id: { "client-1", 7 }, last_sequence 42, recorded_at_ms 1700000000000,
    //   results: [ { "a", "", 41, removed false, changed true, created true }, { "b", "p", 42, true, true, false } ] },
    //   { request_id: { "c2", 1 }, last_sequence 43, recorded_at_ms 1700000000001 } ] }
    private const string Stored =
        "0a300a0c0a08636c69656e742d311007102a1880d095ffbc3122090a0161182928013001220c0a0162120170182a200128010a110a060a0263321001102b1881d095ffbc31";

    private static readonly RecordedRequest[] Requests =
    [
        new(new RequestKey("client-1", 7), 42, 1_700_000_000_000, [new WriteResult(new ItemKey("a"), 41, false, true, true), new WriteResult(new ItemKey("b", "p"), 42, true, true, false)]),
        new(new RequestKey("c2", 1), 43, 1_700_000_000_001, []),
    ];

    [Fact]
    public void ToStored_Requests_SameBytesAsEarlierReleases()
    {
        var rows = RecordedRequests.ToStored(Requests);

        var row = Assert.Single(rows);
        Assert.Equal(43, row.LastSequence);
        Assert.Equal(Stored, Convert.ToHexStringLower(row.Requests));
    }

    [Fact]
    public void FromStored_RowOfEarlierRelease_ReadsEveryField()
    {
        var read = RecordedRequests.FromStored([new StoredRequestBlock(43, Convert.FromHexString(Stored))]).ToList();

        Assert.Equal(2, read.Count);
        for (var i = 0; i < read.Count; i++)
        {
            Assert.Equal(Requests[i].Key, read[i].Key);
            Assert.Equal(Requests[i].LastSequence, read[i].LastSequence);
            Assert.Equal(Requests[i].RecordedAtMs, read[i].RecordedAtMs);
            Assert.Equal(Requests[i].Results, read[i].Results);
        }
    }

    [Fact]
    public void ToWire_ThenFromWire_KeepsEveryField()
    {
        var back = RecordedRequest.FromWire(Requests[0].ToWire());

        Assert.Equal(Requests[0].Key, back.Key);
        Assert.Equal(Requests[0].LastSequence, back.LastSequence);
        Assert.Equal(Requests[0].RecordedAtMs, back.RecordedAtMs);
        Assert.Equal(Requests[0].Results, back.Results);
    }
}
