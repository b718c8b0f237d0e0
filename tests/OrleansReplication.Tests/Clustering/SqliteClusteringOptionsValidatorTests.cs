using Microsoft.Extensions.Options;
using Orleans.Runtime;
using OrleansReplication.Clustering.Sqlite;

namespace OrleansReplication.Tests.Clustering;

public sealed class SqliteClusteringOptionsValidatorTests
{
    [Theory]
    [InlineData("")]
    [InlineData("   ")]
    [InlineData("Data Source=")]
    [InlineData("Data Source=:memory:")]
    [InlineData("Data Source=cluster.db;Mode=ReadOnly")]
    [InlineData("Nonsense Keyword=1")]
    public void ValidateConfiguration_UnusableConnectionString_ThrowsNamingTheSetting(string connectionString)
    {
        var validator = new SqliteClusteringOptionsValidator(Options.Create(new SqliteClusteringOptions { ConnectionString = connectionString }));

        var error = Assert.Throws<OrleansConfigurationException>(validator.ValidateConfiguration);

        Assert.Contains("SqliteClusteringOptions.ConnectionString", error.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("Data Source=/var/lib/orleans-replication/cluster.db")]
    [InlineData("Data Source=cluster;Mode=Memory;Cache=Shared")]
    public void Validate_UsableConnectionString_ReportsNothing(string connectionString)
    {
        Assert.Empty(SqliteClusteringOptionsValidator.Validate(new SqliteClusteringOptions { ConnectionString = connectionString }));
    }

    [Fact]
    public void Validate_ReadOnlyInMemoryDatabase_ReportsBothProblems()
    {
        var failures = SqliteClusteringOptionsValidator.Validate(new SqliteClusteringOptions { ConnectionString = "Data Source=:memory:;Mode=ReadOnly" });

        Assert.Equal(2, failures.Count);
    }
}
