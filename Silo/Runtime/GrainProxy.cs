using System.Collections.Concurrent;
using System.Reflection;
using OrleansReplication.Grains.Runtime;

namespace OrleansReplication.Silo.Runtime;

/// <summary>
/// A grain reference: implements a grain interface and turns each call into a work item on the
/// grain's activation. Built with <see cref="DispatchProxy"/>, since Orleans' code generator is
/// not available here; the per-method invoker is built once and cached.
/// </summary>
internal class GrainProxy : DispatchProxy
{
    private static readonly ConcurrentDictionary<MethodInfo, Func<GrainRuntime, GrainId, MethodInfo, object?[]?, object>> Invokers = new();
    private static readonly MethodInfo InvokeTypedMethod = typeof(GrainProxy).GetMethod(nameof(InvokeTyped), BindingFlags.NonPublic | BindingFlags.Static)!;

    private GrainRuntime? _runtime;
    private GrainId _grainId;

    internal static TGrainInterface Create<TGrainInterface>(GrainRuntime runtime, GrainId grainId)
    {
        var proxy = Create<TGrainInterface, GrainProxy>();
        var self = (GrainProxy)(object)proxy!;
        self._runtime = runtime;
        self._grainId = grainId;
        return proxy;
    }

    /// <inheritdoc />
    protected override object? Invoke(MethodInfo? targetMethod, object?[]? args)
    {
        ArgumentNullException.ThrowIfNull(targetMethod);
        var invoker = Invokers.GetOrAdd(targetMethod, Build);
        return invoker(_runtime!, _grainId, targetMethod, args);
    }

    /// <inheritdoc />
    public override string ToString() => $"GrainReference:{_grainId}";

    private static Func<GrainRuntime, GrainId, MethodInfo, object?[]?, object> Build(MethodInfo method)
    {
        var returnType = method.ReturnType;
        if (returnType == typeof(Task))
        {
            return static (runtime, id, m, args) => runtime.InvokeAsync<Grain, bool>(id, async grain =>
            {
                await ((Task)m.Invoke(grain, BindingFlags.DoNotWrapExceptions, null, args, null)!).ConfigureAwait(false);
                return true;
            });
        }

        if (returnType.IsGenericType && returnType.GetGenericTypeDefinition() == typeof(Task<>))
        {
            var typed = InvokeTypedMethod.MakeGenericMethod(returnType.GetGenericArguments()[0]);
            return typed.CreateDelegate<Func<GrainRuntime, GrainId, MethodInfo, object?[]?, object>>();
        }

        throw new NotSupportedException($"Grain method {method.DeclaringType}.{method.Name} returns {returnType}; grain methods must return Task or Task<T>.");
    }

    private static object InvokeTyped<TResult>(GrainRuntime runtime, GrainId id, MethodInfo method, object?[]? args) =>
        runtime.InvokeAsync<Grain, TResult>(id, grain => (Task<TResult>)method.Invoke(grain, BindingFlags.DoNotWrapExceptions, null, args, null)!);
}
