namespace OrleansReplication.Tests.Infrastructure;

/// <summary>
/// One in-process silo shared by the tests of a class (<c>IClassFixture&lt;SiloFixture&gt;</c>), with
/// its store in a temp directory. Tests that share it must use their own component names.
/// </summary>
public class SiloFixture : IAsyncLifetime
{
    private readonly TempDirectory _dataDir = new("or-silo-");
    private InProcessSilo? _silo;

    /// <summary>The partition count the shared silo is created with; small, so it starts fast.</summary>
    public const int PartitionCount = 16;

    /// <summary>The running silo.</summary>
    public InProcessSilo Silo => _silo ?? throw new InvalidOperationException("The silo fixture is not started.");

    /// <summary>Settings of the silo; override to change limits.</summary>
    protected virtual IReadOnlyDictionary<string, string?> Settings { get; } = new Dictionary<string, string?>
    {
        ["Silo:PartitionCount"] = PartitionCount.ToString(System.Globalization.CultureInfo.InvariantCulture),
    };

    /// <inheritdoc />
    public async Task InitializeAsync() => _silo = await InProcessSilo.StartAsync(_dataDir.Path, Settings);

    /// <inheritdoc />
    public async Task DisposeAsync()
    {
        try
        {
            if (_silo is not null)
            {
                await _silo.DisposeAsync();
            }
        }
        finally
        {
            _dataDir.Dispose();
        }
    }
}
