using System.Buffers.Text;

namespace OrleansReplication.Silo.Listeners;

/// <summary>
/// A listener's position: one sequence number per partition, "every change up to here has been
/// delivered". On the wire, base64url (no padding) of LEB128 varints: the partition count, then
/// each partition's sequence. Compact (about two bytes per quiet partition) and opaque to clients.
/// </summary>
internal static class ChangeCursor
{
    // A cursor of a 65,536-partition cluster at 2^63 writes per partition stays under this; anything longer is not ours.
    private const int MaxEncodedLength = 1024 * 1024;

    /// <summary>Encodes <paramref name="positions"/>.</summary>
    public static string Encode(ReadOnlySpan<long> positions)
    {
        Span<byte> buffer = positions.Length <= 256 ? stackalloc byte[(positions.Length + 1) * 10] : new byte[(positions.Length + 1) * 10];
        var length = WriteVarint(buffer, (ulong)positions.Length);
        foreach (var position in positions)
        {
            length += WriteVarint(buffer[length..], (ulong)position);
        }

        return Base64Url.EncodeToString(buffer[..length]);
    }

    /// <summary>Decodes a cursor of a cluster with <paramref name="partitionCount"/> partitions; <see cref="InvalidRequestException"/> when it is not one.</summary>
    public static long[] Decode(string cursor, int partitionCount)
    {
        ArgumentNullException.ThrowIfNull(cursor);
        byte[] bytes;
        try
        {
            bytes = cursor.Length <= MaxEncodedLength ? Base64Url.DecodeFromChars(cursor) : throw new FormatException("too long");
        }
        catch (FormatException)
        {
            throw Invalid(cursor, "it is not base64url");
        }

        var span = (ReadOnlySpan<byte>)bytes;
        if (!TryReadVarint(ref span, out var count) || count != (ulong)partitionCount)
        {
            throw Invalid(cursor, $"it is not for a cluster of {partitionCount} partitions");
        }

        var positions = new long[partitionCount];
        for (var p = 0; p < partitionCount; p++)
        {
            if (!TryReadVarint(ref span, out var value) || value > long.MaxValue)
            {
                throw Invalid(cursor, "it is truncated or corrupt");
            }

            positions[p] = (long)value;
        }

        return span.IsEmpty ? positions : throw Invalid(cursor, "it has trailing bytes");
    }

    private static InvalidRequestException Invalid(string cursor, string why) =>
        new($"The cursor '{(cursor.Length > 64 ? cursor[..64] + "…" : cursor)}' is not valid: {why}. Pass a cursor exactly as an event carried it, or none to start from a snapshot.");

    private static int WriteVarint(Span<byte> into, ulong value)
    {
        var i = 0;
        while (value >= 0x80)
        {
            into[i++] = (byte)(value | 0x80);
            value >>= 7;
        }

        into[i++] = (byte)value;
        return i;
    }

    private static bool TryReadVarint(ref ReadOnlySpan<byte> span, out ulong value)
    {
        value = 0;
        for (var shift = 0; shift < 64; shift += 7)
        {
            if (span.IsEmpty)
            {
                return false;
            }

            var b = span[0];
            span = span[1..];
            value |= (ulong)(b & 0x7F) << shift;
            if (b < 0x80)
            {
                return true;
            }
        }

        return false;
    }
}
