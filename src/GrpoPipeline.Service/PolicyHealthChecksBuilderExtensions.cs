using GrpoPipeline.Inference.Hosting;
using Microsoft.Extensions.Diagnostics.HealthChecks;

// The conventional namespace of health-check builder extensions.
namespace Microsoft.Extensions.DependencyInjection;

/// <summary>Readiness of the policy model for ASP.NET Core health checks.</summary>
public static class PolicyHealthChecksBuilderExtensions
{
    /// <summary>The tag of <see cref="AddPolicyModelCheck"/>'s check, for a readiness endpoint's predicate.</summary>
    public const string ReadyTag = "ready";

    /// <summary>
    /// Adds a check named <c>policy-model</c>, tagged <see cref="ReadyTag"/>: healthy once the hot-reloading policy has
    /// a model loaded (it stays loaded across reloads, so a rejected replacement does not make it unhealthy).
    /// </summary>
    /// <example><code>builder.Services.AddHealthChecks().AddPolicyModelCheck();</code></example>
    public static IHealthChecksBuilder AddPolicyModelCheck(this IHealthChecksBuilder builder) =>
        builder.AddCheck<PolicyModelCheck>("policy-model", tags: [ReadyTag]);

    sealed class PolicyModelCheck(PolicyHost host) : IHealthCheck
    {
        public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default) =>
            Task.FromResult(host.Current is { } model
                ? HealthCheckResult.Healthy($"model {model.Generation} loaded from {host.ModelPath}")
                : HealthCheckResult.Unhealthy("no model is loaded"));
    }
}
