using OrleansReplication.Tests.Infrastructure;

namespace OrleansReplication.Tests.Runtime;

/// <summary>Grain references built by <c>GetGrain</c> (DispatchProxy): method shapes, results and exceptions.</summary>
public sealed class GrainProxyTests : IAsyncLifetime
{
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(10);
    private readonly RuntimeHarness _harness = new();

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync() => await _harness.DisposeAsync();

    [Fact]
    public async Task GetGrain_TaskAndTaskOfTMethods_RunOnTheGrainAndReturnResults()
    {
        var grain = _harness.Runtime.GetGrain<IProxyGrain>("p1");

        await Wait.ForAsync(grain.TouchAsync(), Deadline, "TouchAsync");
        await Wait.ForAsync(grain.TouchAsync(), Deadline, "TouchAsync");

        Assert.Equal(5, await Wait.ForAsync(grain.AddAsync(2, 3), Deadline, "AddAsync"));
        Assert.Equal("héllo", await Wait.ForAsync(grain.EchoAsync("héllo"), Deadline, "EchoAsync"));
        Assert.Equal("p1:2", await Wait.ForAsync(grain.DescribeAsync(), Deadline, "DescribeAsync"));
    }

    [Fact]
    public async Task GetGrain_SameKeyTwice_ReachesSameActivation()
    {
        await Wait.ForAsync(_harness.Runtime.GetGrain<IProxyGrain>("shared").TouchAsync(), Deadline, "TouchAsync");

        var again = _harness.Runtime.GetGrain<IProxyGrain>("shared");

        Assert.Equal("shared:1", await Wait.ForAsync(again.DescribeAsync(), Deadline, "DescribeAsync"));
        Assert.Equal(1, _harness.Runtime.ActivationCount);
    }

    [Fact]
    public async Task GetGrain_AsyncGrainMethodThrows_CallerGetsExceptionUnwrapped()
    {
        var grain = _harness.Runtime.GetGrain<IProxyGrain>("p2");

        var error = await Assert.ThrowsAsync<GrainTestException>(() => Wait.ForAsync(grain.FailAsync("async boom"), Deadline, "FailAsync"));

        Assert.Equal("async boom", error.Message);
    }

    [Fact]
    public async Task GetGrain_GrainMethodThrowsBeforeReturningTask_CallerGetsExceptionUnwrapped()
    {
        var grain = _harness.Runtime.GetGrain<IProxyGrain>("p3");

        var error = await Assert.ThrowsAsync<GrainTestException>(() => Wait.ForAsync(grain.FailSynchronouslyAsync("sync boom"), Deadline, "FailSynchronouslyAsync"));

        Assert.Equal("sync boom", error.Message);
    }

    [Fact]
    public async Task GetGrain_AfterGrainMethodThrew_ActivationKeepsServingWithItsState()
    {
        var grain = _harness.Runtime.GetGrain<IProxyGrain>("p4");
        await Wait.ForAsync(grain.TouchAsync(), Deadline, "TouchAsync");

        await Assert.ThrowsAsync<GrainTestException>(() => Wait.ForAsync(grain.FailAsync("x"), Deadline, "FailAsync"));

        Assert.Equal("p4:1", await Wait.ForAsync(grain.DescribeAsync(), Deadline, "DescribeAsync"));
        Assert.Equal(1, _harness.Runtime.ActivationCount);
    }

    [Fact]
    public async Task GrainFactory_GrainCallsAnotherGrain_GetsItsResult()
    {
        var grain = _harness.Runtime.GetGrain<IProxyGrain>("caller");

        var sum = await Wait.ForAsync(grain.AddViaOtherAsync("callee", 20, 22), Deadline, "a grain-to-grain call");

        Assert.Equal(42, sum);
        Assert.Equal(2, _harness.Runtime.ActivationCount);
    }
}
