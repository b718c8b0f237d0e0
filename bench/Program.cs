using OrleansReplication.Bench;

return await BenchCommand.RunAsync(args);
