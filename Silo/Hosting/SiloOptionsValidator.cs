using System.Net;
using Microsoft.Extensions.Options;

namespace OrleansReplication.Silo.Hosting;

/// <summary>Collects every problem with <see cref="SiloOptions"/> at start-up, each naming the setting and how to fix it.</summary>
internal sealed class SiloOptionsValidator : IValidateOptions<SiloOptions>
{
    public ValidateOptionsResult Validate(string? name, SiloOptions options)
    {
        var failures = new List<string>();
        if (options.Instance is < 0 or > 1000)
        {
            failures.Add($"Silo:Instance (--instance) is {options.Instance}; use 0 to 1000.");
        }

        CheckPort(failures, "Silo:SiloPort (--silo-port)", options.SiloPort, options.Instance);
        CheckPort(failures, "Silo:GatewayPort (--gateway-port)", options.GatewayPort, options.Instance);
        CheckPort(failures, "Silo:HttpPort (--http-port)", options.HttpPort, options.Instance);
        var ports = new[] { options.EffectiveSiloPort, options.EffectiveGatewayPort, options.EffectiveHttpPort };
        if (ports.Distinct().Count() != ports.Length)
        {
            failures.Add($"Silo:SiloPort, Silo:GatewayPort and Silo:HttpPort must differ; they are {string.Join(", ", ports)}.");
        }

        foreach (var (setting, value) in new[] { ("Silo:ClusterId", options.ClusterId), ("Silo:ServiceId", options.ServiceId) })
        {
            if (string.IsNullOrWhiteSpace(value) || value.Length > 128 || value.Any(char.IsControl))
            {
                failures.Add($"{setting} '{value}' must be 1 to 128 characters without control characters.");
            }
        }

        if (options.SiloId.Any(c => c == '@' || char.IsWhiteSpace(c) || char.IsControl(c)) || options.SiloId.Length > 128)
        {
            failures.Add($"Silo:SiloId (--silo-id) '{options.SiloId}' must be at most 128 characters without '@', spaces or control characters.");
        }

        if (!IPAddress.TryParse(options.ListenAddress, out _))
        {
            failures.Add($"Silo:ListenAddress (--listen-address) '{options.ListenAddress}' is not an IP address; use 127.0.0.1 or 0.0.0.0.");
        }

        switch (options.Storage)
        {
            case "sqlite":
                if (string.IsNullOrWhiteSpace(options.DataDir) && string.IsNullOrWhiteSpace(options.ConnectionString))
                {
                    failures.Add("Silo:DataDir (--data-dir) is empty; give a folder for the SQLite file.");
                }

                break;
            case "postgres":
                if (string.IsNullOrWhiteSpace(options.ConnectionString))
                {
                    failures.Add("Silo:ConnectionString (--connection-string) is required with --storage postgres, e.g. 'Host=127.0.0.1;Username=postgres;Database=replication'.");
                }

                break;
            default:
                failures.Add($"Silo:Storage (--storage) '{options.Storage}' is unknown; use sqlite or postgres.");
                break;
        }

        if (options.PartitionCount is < 1 or > 4096)
        {
            failures.Add($"Silo:PartitionCount (--partitions) is {options.PartitionCount}; use 1 to 4096.");
        }

        if (options.MaxItemBytes < 16 || options.MaxItemBytes > options.MaxFrameBytes - 1024)
        {
            failures.Add($"Silo:MaxItemBytes is {options.MaxItemBytes}; use 16 bytes up to Silo:MaxFrameBytes - 1024 ({options.MaxFrameBytes - 1024}).");
        }

        if (options.MaxFrameBytes is < 64 * 1024 or > 256 * 1024 * 1024)
        {
            failures.Add($"Silo:MaxFrameBytes is {options.MaxFrameBytes}; use 64 KiB to 256 MiB.");
        }

        if (options.MaxListLimit is < 1 or > 100_000)
        {
            failures.Add($"Silo:MaxListLimit is {options.MaxListLimit}; use 1 to 100000.");
        }

        if (options.DefaultSafety is SafetyLevel.Default || !Enum.IsDefined(options.DefaultSafety))
        {
            failures.Add($"Silo:DefaultSafety is '{options.DefaultSafety}'; use Local, Received, Applied or Durable.");
        }

        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }

    private static void CheckPort(List<string> failures, string setting, int port, int instance)
    {
        if (port < 1 || port + instance > 65535)
        {
            failures.Add($"{setting} is {port} (+ instance {instance} = {port + instance}); the result must be 1 to 65535.");
        }
    }
}
