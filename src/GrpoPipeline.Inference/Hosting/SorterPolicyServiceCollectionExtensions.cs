using GrpoPipeline.Inference.Hosting;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;

// The conventional namespace of IServiceCollection extensions, so they show up without an extra using.
namespace Microsoft.Extensions.DependencyInjection;

/// <summary>Registers a hot-reloading <see cref="GrpoPipeline.Inference.ISorterPolicy"/> in any .NET host.</summary>
public static class SorterPolicyServiceCollectionExtensions
{
    /// <summary>
    /// Registers <see cref="GrpoPipeline.Inference.ISorterPolicy"/> as a singleton over the model at
    /// <see cref="SorterModelOptions.ModelPath"/>: the model is loaded, checked and warmed up when the host starts,
    /// and swapped when its file is replaced, without failing a call. Also registers the
    /// <see cref="SorterPolicyHost"/> behind it (leases, reload counts). Options are validated at start.
    /// </summary>
    /// <example><code>builder.Services.AddSorterPolicy(options => options.ModelPath = "models/seed.onnx");</code></example>
    public static IServiceCollection AddSorterPolicy(this IServiceCollection services, Action<SorterModelOptions>? configure = null)
    {
        var options = services.AddOptions<SorterModelOptions>();
        if (configure is not null) options.Configure(configure);
        options.ValidateOnStart();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<SorterModelOptions>>(
            new OptionsValidator<SorterModelOptions>(o => o.Validate())));
        services.TryAddSingleton(TimeProvider.System);
        services.TryAddSingleton<SorterPolicyHost>();
        services.TryAddSingleton<GrpoPipeline.Inference.ISorterPolicy, HotReloadingSorterPolicy>();
        // TryAddEnumerable: calling AddSorterPolicy twice must not start two watchers.
        services.TryAddEnumerable(ServiceDescriptor.Singleton<Microsoft.Extensions.Hosting.IHostedService, ModelWatcher>());
        return services;
    }
}
