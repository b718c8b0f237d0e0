namespace OrleansReplication.Bench.Measurement.History;

/// <summary>
/// The state of one key as the sequential specification sees it: its value (<see langword="null"/>:
/// absent) and version. After a write whose acknowledgement was lost the version is not known,
/// only that it is above <see cref="Version"/> (<see cref="Exact"/> is false).
/// </summary>
public readonly record struct RegisterState(string? Value, long Version, bool Exact)
{
    /// <summary>A key that was never written.</summary>
    public static RegisterState Absent { get; } = new(null, 0, true);
}

/// <summary>
/// The sequential specification of a versioned register (an item of a State Replicator): a write
/// replaces the value and gets a version above every earlier one; a read returns the current value
/// with its version.
/// </summary>
public static class RegisterModel
{
    /// <summary>Applies <paramref name="op"/> to <paramref name="state"/>: whether its observed output is legal, and the state after it.</summary>
    public static (bool Legal, RegisterState Next) Step(RegisterState state, HistoryOperation op)
    {
        ArgumentNullException.ThrowIfNull(op);
        if (op.Kind == OperationKind.Write)
        {
            if (op.IsIndeterminate)
            {
                // Took effect with some version above the current one.
                return (true, new RegisterState(op.Value, state.Version, Exact: false));
            }

            return (op.Version > state.Version, new RegisterState(op.Value, op.Version, Exact: true));
        }

        if (op.Value is null)
        {
            return (state.Value is null, state);
        }

        var versionOk = state.Exact ? op.Version == state.Version : op.Version > state.Version;
        return (versionOk && string.Equals(op.Value, state.Value, StringComparison.Ordinal), new RegisterState(op.Value, op.Version, Exact: true));
    }
}
