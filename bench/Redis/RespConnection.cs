using System.Net.Sockets;
using System.Text;

namespace OrleansReplication.Bench.Redis;

/// <summary>
/// A minimal RESP2 client on one TCP connection: commands are written as arrays of bulk strings,
/// several per flush (pipelining), replies read in order. Enough for SET, GET, WAIT, INFO and SENTINEL.
/// Not thread-safe: one per worker, like the silo client's one request in flight per worker.
/// </summary>
internal sealed class RespConnection : IDisposable
{
    private readonly Socket _socket;
    private readonly NetworkStream _stream;
    private readonly BufferedStream _reader;
    private readonly MemoryStream _pending = new();

    private RespConnection(Socket socket)
    {
        _socket = socket;
        _stream = new NetworkStream(socket, ownsSocket: true);
        _reader = new BufferedStream(_stream, 64 * 1024);
    }

    public static async Task<RespConnection> ConnectAsync(int port, TimeSpan timeout)
    {
        var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true, ReceiveTimeout = (int)timeout.TotalMilliseconds, SendTimeout = (int)timeout.TotalMilliseconds };
        try
        {
            using var cts = new CancellationTokenSource(timeout);
            await socket.ConnectAsync(new System.Net.IPEndPoint(System.Net.IPAddress.Loopback, port), cts.Token);
            return new RespConnection(socket);
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }

    /// <summary>Queues a command; <see cref="FlushAsync"/> sends every queued one in one write.</summary>
    public void Queue(params object[] parts)
    {
        WriteAscii($"*{parts.Length}\r\n");
        foreach (var part in parts)
        {
            var bytes = part as byte[] ?? Encoding.UTF8.GetBytes(Convert.ToString(part, System.Globalization.CultureInfo.InvariantCulture)!);
            WriteAscii($"${bytes.Length}\r\n");
            _pending.Write(bytes);
            WriteAscii("\r\n");
        }
    }

    public async Task FlushAsync()
    {
        await _stream.WriteAsync(_pending.GetBuffer().AsMemory(0, (int)_pending.Length));
        _pending.SetLength(0);
    }

    /// <summary>Sends one command and reads its reply.</summary>
    public async Task<object?> CallAsync(params object[] parts)
    {
        Queue(parts);
        await FlushAsync();
        return await ReadAsync();
    }

    /// <summary>Reads one reply: string (simple or bulk), long, null, object?[] (array); an error reply throws.</summary>
    public async Task<object?> ReadAsync()
    {
        var line = await ReadLineAsync();
        var payload = line[1..];
        switch (line[0])
        {
            case '+':
                return payload;
            case '-':
                throw new RedisErrorException(payload);
            case ':':
                return long.Parse(payload, System.Globalization.CultureInfo.InvariantCulture);
            case '$':
                var length = int.Parse(payload, System.Globalization.CultureInfo.InvariantCulture);
                if (length < 0)
                {
                    return null;
                }

                var buffer = new byte[length + 2];
                await _reader.ReadExactlyAsync(buffer);
                return Encoding.UTF8.GetString(buffer, 0, length);
            case '*':
                var count = int.Parse(payload, System.Globalization.CultureInfo.InvariantCulture);
                if (count < 0)
                {
                    return null;
                }

                var items = new object?[count];
                for (var i = 0; i < count; i++)
                {
                    items[i] = await ReadAsync();
                }

                return items;
            default:
                throw new IOException($"Unexpected RESP reply '{line}'.");
        }
    }

    public void Dispose()
    {
        _reader.Dispose();
        _stream.Dispose();
        _socket.Dispose();
    }

    private void WriteAscii(string text)
    {
        Span<byte> bytes = stackalloc byte[text.Length];
        Encoding.ASCII.GetBytes(text, bytes);
        _pending.Write(bytes);
    }

    private async Task<string> ReadLineAsync()
    {
        var line = new StringBuilder();
        var one = new byte[1];
        while (true)
        {
            if (await _reader.ReadAsync(one) == 0)
            {
                throw new IOException("Redis closed the connection.");
            }

            if (one[0] == '\r')
            {
                await _reader.ReadExactlyAsync(one);
                return line.ToString();
            }

            line.Append((char)one[0]);
        }
    }
}

/// <summary>An error reply (<c>-ERR ...</c>) from Redis.</summary>
internal sealed class RedisErrorException(string message) : Exception(message);
