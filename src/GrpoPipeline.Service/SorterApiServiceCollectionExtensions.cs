using GrpoPipeline.Inference;
using GrpoPipeline.Inference.Hosting;
using GrpoPipeline.Service;
using GrpoPipeline.Service.Http;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;
using OpenTelemetry.Metrics;

// The conventional namespace of IServiceCollection extensions, so they show up without an extra using.
namespace Microsoft.Extensions.DependencyInjection;

/// <summary>Registers what <see cref="Microsoft.AspNetCore.Builder.SorterApiEndpointRouteBuilderExtensions.MapSorterApi"/> serves.</summary>
public static class SorterApiServiceCollectionExtensions
{
    /// <summary>
    /// Registers the sorter API from the <c>Sorter</c> section of <paramref name="configuration"/>: the hot-reloading
    /// policy (<see cref="SorterModelOptions"/>: <c>ModelPath</c>, …), the API's settings (<see cref="SorterApiOptions"/>:
    /// batch and body limits, API keys, rate limit, metrics), problem details, OpenAPI, and — with
    /// <c>Sorter:Metrics</c> — OpenTelemetry metrics with a Prometheus exporter. Both option sets are validated when
    /// the host starts.
    /// </summary>
    /// <example>
    /// <code>
    /// builder.Services.AddSorterApi(builder.Configuration);
    /// var app = builder.Build();
    /// app.MapSorterApi();
    /// </code>
    /// </example>
    public static IServiceCollection AddSorterApi(this IServiceCollection services, IConfiguration configuration)
    {
        var section = configuration.GetSection(SorterApiOptions.Section);
        services.AddOptions<SorterModelOptions>().Bind(section);
        services.AddSorterPolicy();
        services.AddOptions<SorterApiOptions>().Bind(section).ValidateOnStart();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<SorterApiOptions>>(
            new OptionsValidator<SorterApiOptions>(o => o.Validate())));

        services.TryAddSingleton<ApiKeyFilter>();
        services.TryAddSingleton<RateLimitFilter>();
        services.ConfigureHttpJsonOptions(json => json.SerializerOptions.TypeInfoResolverChain.Insert(0, ServiceJsonContext.Default));
        services.AddProblemDetails();
        services.AddOpenApi();

        if (section.GetValue<bool>(nameof(SorterApiOptions.Metrics)))
            services.AddOpenTelemetry().WithMetrics(metrics => metrics
                .AddMeter(GrpoMetrics.MeterName, "Microsoft.AspNetCore.Hosting")
                .AddPrometheusExporter());
        return services;
    }
}
