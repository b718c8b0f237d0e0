using System.Reflection;
using Microsoft.Extensions.DependencyInjection;

namespace OrleansReplication.Grains.State;

/// <summary>
/// Supplies <c>[ReplicatedState]</c> constructor parameters, as Orleans' own mapper supplies
/// <c>[PersistentState]</c> ones (Orleans' attribute-facet mechanism).
/// </summary>
internal sealed class ReplicatedStateAttributeMapper : IAttributeToFactoryMapper<ReplicatedStateAttribute>
{
    private static readonly MethodInfo CreateFacet = typeof(ReplicatedStateFactory).GetMethod(nameof(ReplicatedStateFactory.CreateFacet))!;

    public Factory<IGrainContext, object> GetFactory(ParameterInfo parameter, ReplicatedStateAttribute attribute)
    {
        ReplicatedGrainClass.Check(parameter, attribute);
        var create = CreateFacet.MakeGenericMethod(parameter.ParameterType.GetGenericArguments())
            .CreateDelegate<Func<ReplicatedStateFactory, IGrainContext, string, string?, object>>();
        var (stateName, storageName) = (attribute.StateName, attribute.StorageName);
        return context => create(context.ActivationServices.GetRequiredService<ReplicatedStateFactory>(), context, stateName, storageName);
    }
}
