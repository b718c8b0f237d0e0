using System.Text;

namespace OrleansReplication.Testing.Processes;

/// <summary>
/// The lines a process wrote to one stream, appended by its output event thread and read by the
/// caller: guarded by itself. With a limit, only the latest lines are kept.
/// </summary>
internal sealed class OutputTail(int? limit)
{
    private readonly StringBuilder _text = new();

    public void Append(string? line)
    {
        if (line is null)
        {
            return;
        }

        lock (_text)
        {
            if (_text.Length > limit)
            {
                _text.Remove(0, limit.Value / 2);
            }

            _text.AppendLine(line);
        }
    }

    public override string ToString()
    {
        lock (_text)
        {
            return _text.ToString();
        }
    }
}
