using GrpoPipeline.Inference.Hosting;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;

// The conventional namespace of IServiceCollection extensions, so they show up without an extra using.
namespace Microsoft.Extensions.DependencyInjection;

/// <summary>Registers a hot-reloading <see cref="GrpoPipeline.Inference.IPolicy"/> in any .NET host.</summary>
public static class PolicyServiceCollectionExtensions
{
    /// <summary>
    /// Registers <see cref="GrpoPipeline.Inference.IPolicy"/> as a singleton over the model at
    /// <see cref="PolicyModelOptions.ModelPath"/>: the model is loaded, checked and warmed up when the host starts,
    /// and swapped when its file is replaced, without failing a call. Also registers the
    /// <see cref="PolicyHost"/> behind it (leases, reload counts). Options are validated at start.
    /// </summary>
    /// <example><code>builder.Services.AddGrpoPolicy(options => options.ModelPath = "models/seed.onnx");</code></example>
    public static IServiceCollection AddGrpoPolicy(this IServiceCollection services, Action<PolicyModelOptions>? configure = null)
    {
        var options = services.AddOptions<PolicyModelOptions>();
        if (configure is not null) options.Configure(configure);
        options.ValidateOnStart();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<PolicyModelOptions>>(
            new OptionsValidator<PolicyModelOptions>(o => o.Validate())));
        services.TryAddSingleton(TimeProvider.System);
        services.TryAddSingleton<PolicyHost>();
        services.TryAddSingleton<GrpoPipeline.Inference.IPolicy, HotReloadingPolicy>();
        // TryAddEnumerable: calling AddGrpoPolicy twice must not start two watchers.
        services.TryAddEnumerable(ServiceDescriptor.Singleton<Microsoft.Extensions.Hosting.IHostedService, ModelWatcher>());
        return services;
    }

    /// <summary>
    /// Registers an app's own task (<see cref="GrpoPipeline.Core.TaskRegistry.Register"/>), so that a model trained on
    /// it is scored: its prompt check and rewards come from <paramref name="create"/>, given the options stored in the
    /// model. Without it such a model still answers, and its rewards are unavailable
    /// (<see cref="GrpoPipeline.Inference.PolicyContract.RewardsUnavailable"/>). Registration is process-wide.
    /// </summary>
    /// <example><code>builder.Services.AddGrpoTask("distinct", options => new DistinctTask(options)).AddGrpoPolicy(o => o.ModelPath = "distinct.onnx");</code></example>
    public static IServiceCollection AddGrpoTask(this IServiceCollection services, string name, Func<GrpoPipeline.Core.TaskOptions, GrpoPipeline.Core.VerifiableTask> create)
    {
        GrpoPipeline.Core.TaskRegistry.Register(name, create);
        return services;
    }
}
