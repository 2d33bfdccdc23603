using GrpoPipeline.Inference;
using GrpoPipeline.Inference.Hosting;
using GrpoPipeline.Service;
using GrpoPipeline.Service.Http;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;
using OpenTelemetry.Metrics;

// The conventional namespace of IServiceCollection extensions, so they show up without an extra using.
namespace Microsoft.Extensions.DependencyInjection;

/// <summary>Registers what <see cref="Microsoft.AspNetCore.Builder.PolicyApiEndpointRouteBuilderExtensions.MapGrpoApi"/> serves.</summary>
public static class PolicyApiServiceCollectionExtensions
{
    /// <summary>
    /// Registers the policy API from the <c>Policy</c> section of <paramref name="configuration"/>: the hot-reloading
    /// policy (<see cref="PolicyModelOptions"/>: <c>ModelPath</c>, …), the API's settings (<see cref="PolicyApiOptions"/>:
    /// batch and body limits, API keys, rate limit, metrics), problem details, OpenAPI, and — with
    /// <c>Policy:Metrics</c> — OpenTelemetry metrics with a Prometheus exporter. Both option sets are validated when
    /// the host starts.
    /// </summary>
    /// <example>
    /// <code>
    /// builder.Services.AddGrpoApi(builder.Configuration);
    /// var app = builder.Build();
    /// app.MapGrpoApi();
    /// </code>
    /// </example>
    /// <exception cref="InvalidOperationException">The configuration still has a <c>Sorter</c> section, the name of 0.2.</exception>
    public static IServiceCollection AddGrpoApi(this IServiceCollection services, IConfiguration configuration)
    {
        // Renamed in 0.3: silently ignoring the old section would start a service without its model path, keys or limits.
        if (configuration.GetSection("Sorter").Exists())
            throw new InvalidOperationException(
                $"the configuration section 'Sorter' was renamed '{PolicyApiOptions.Section}' in 0.3: rename it (appsettings.json, Sorter__X environment variables, --Sorter:X arguments); see CHANGELOG.md");
        var section = configuration.GetSection(PolicyApiOptions.Section);
        services.AddOptions<PolicyModelOptions>().Bind(section);
        services.AddGrpoPolicy();
        services.AddOptions<PolicyApiOptions>().Bind(section).ValidateOnStart();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<PolicyApiOptions>>(
            new OptionsValidator<PolicyApiOptions>(o => o.Validate())));

        services.TryAddSingleton<ApiKeyFilter>();
        services.TryAddSingleton<RateLimitFilter>();
        services.ConfigureHttpJsonOptions(json => json.SerializerOptions.TypeInfoResolverChain.Insert(0, ServiceJsonContext.Default));
        services.AddProblemDetails();
        services.AddOpenApi();

        if (section.GetValue<bool>(nameof(PolicyApiOptions.Metrics)))
            services.AddOpenTelemetry().WithMetrics(metrics => metrics
                .AddMeter(GrpoMetrics.MeterName, "Microsoft.AspNetCore.Hosting")
                .AddPrometheusExporter());
        return services;
    }
}
