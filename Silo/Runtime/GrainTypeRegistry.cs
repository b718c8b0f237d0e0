using System.Reflection;
using Microsoft.Extensions.DependencyInjection;
using OrleansReplication.Grains.Runtime;

namespace OrleansReplication.Silo.Runtime;

/// <summary>Maps grain interfaces to the grain classes that implement them.</summary>
internal sealed class GrainTypeRegistry
{
    private readonly Dictionary<string, ObjectFactory> _factories = new(StringComparer.Ordinal);

    /// <summary>Registers every concrete <see cref="Grain"/> class of <paramref name="assembly"/> under each grain interface it implements.</summary>
    public GrainTypeRegistry AddAssembly(Assembly assembly)
    {
        foreach (var type in assembly.GetTypes())
        {
            if (type.IsAbstract || !type.IsSubclassOf(typeof(Grain)))
            {
                continue;
            }

            foreach (var contract in type.GetInterfaces())
            {
                if (typeof(IGrain).IsAssignableFrom(contract) && contract != typeof(IGrain) && contract != typeof(IGrainWithStringKey))
                {
                    Add(contract, type);
                }
            }
        }

        return this;
    }

    /// <summary>Registers <paramref name="implementation"/> as the grain class of <paramref name="contract"/>.</summary>
    public GrainTypeRegistry Add(Type contract, Type implementation)
    {
        if (!contract.IsAssignableFrom(implementation) || !implementation.IsSubclassOf(typeof(Grain)))
        {
            throw new ArgumentException($"{implementation} is not a Grain implementing {contract}.", nameof(implementation));
        }

        // Built once per class: ActivatorUtilities.CreateInstance would reflect on every activation.
        _factories[contract.FullName!] = ActivatorUtilities.CreateFactory(implementation, Type.EmptyTypes);
        return this;
    }

    /// <summary>Finds the constructor-injecting factory of the grain class of a grain interface.</summary>
    public ObjectFactory Resolve(string contract) =>
        _factories.TryGetValue(contract, out var factory)
            ? factory
            : throw new InvalidOperationException($"No grain class implements '{contract}'. Register it with GrainTypeRegistry.Add or put it in a registered assembly.");
}
