using OrleansReplication.Silo.Listeners;

namespace OrleansReplication.Tests.Listeners;

public sealed class ChangeCursorTests
{
    [Fact]
    public void Encode_ThenDecode_RoundTripsPositions()
    {
        long[] positions = [0, 1, 127, 128, 300, long.MaxValue, 42];

        var decoded = ChangeCursor.Decode(ChangeCursor.Encode(positions), positions.Length);

        Assert.Equal(positions, decoded);
    }

    [Fact]
    public void Encode_QuietPartitions_StaysCompact()
    {
        var cursor = ChangeCursor.Encode(new long[64]);

        Assert.True(cursor.Length < 100, $"cursor of 64 quiet partitions is {cursor.Length} characters");
        Assert.DoesNotContain('=', cursor);
    }

    [Theory]
    [InlineData("")]
    [InlineData("***")]
    [InlineData("Ag")]
    [InlineData("AQE")]
    [InlineData("AgEBAQ")]
    public void Decode_NotACursorOfTwoPartitions_ThrowsInvalidRequest(string cursor)
    {
        Assert.Throws<InvalidRequestException>(() => ChangeCursor.Decode(cursor, 2));
    }
}
