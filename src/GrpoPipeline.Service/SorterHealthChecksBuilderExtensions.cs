using GrpoPipeline.Inference.Hosting;
using Microsoft.Extensions.Diagnostics.HealthChecks;

// The conventional namespace of health-check builder extensions.
namespace Microsoft.Extensions.DependencyInjection;

/// <summary>Readiness of the sorter model for ASP.NET Core health checks.</summary>
public static class SorterHealthChecksBuilderExtensions
{
    /// <summary>The tag of <see cref="AddSorterModelCheck"/>'s check, for a readiness endpoint's predicate.</summary>
    public const string ReadyTag = "ready";

    /// <summary>
    /// Adds a check named <c>sorter-model</c>, tagged <see cref="ReadyTag"/>: healthy once the hot-reloading policy has
    /// a model loaded (it stays loaded across reloads, so a rejected replacement does not make it unhealthy).
    /// </summary>
    /// <example><code>builder.Services.AddHealthChecks().AddSorterModelCheck();</code></example>
    public static IHealthChecksBuilder AddSorterModelCheck(this IHealthChecksBuilder builder) =>
        builder.AddCheck<SorterModelCheck>("sorter-model", tags: [ReadyTag]);

    sealed class SorterModelCheck(SorterPolicyHost host) : IHealthCheck
    {
        public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default) =>
            Task.FromResult(host.Current is { } model
                ? HealthCheckResult.Healthy($"model {model.Generation} loaded from {host.ModelPath}")
                : HealthCheckResult.Unhealthy("no model is loaded"));
    }
}
