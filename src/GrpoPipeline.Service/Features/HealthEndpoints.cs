using GrpoPipeline.Service.Hosting;
using Microsoft.AspNetCore.Diagnostics.HealthChecks;
using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace GrpoPipeline.Service.Features;

/// <summary>
/// <c>GET /health/live</c> (the process answers) and <c>GET /health/ready</c> (a model is loaded), in every
/// environment, for orchestrators' liveness and readiness probes.
/// </summary>
public static class HealthEndpoints
{
    const string ReadyTag = "ready";

    public static IHealthChecksBuilder AddSorterHealthChecks(this IServiceCollection services) =>
        services.AddHealthChecks().AddCheck<ModelLoadedCheck>("model", tags: [ReadyTag]);

    public static RouteGroupBuilder MapHealth(this IEndpointRouteBuilder routes)
    {
        var group = routes.MapGroup("/health").WithTags("Health");
        group.MapHealthChecks("/live", new HealthCheckOptions { Predicate = _ => false });
        group.MapHealthChecks("/ready", new HealthCheckOptions { Predicate = check => check.Tags.Contains(ReadyTag) });
        return group;
    }

    sealed class ModelLoadedCheck(PolicyHost host) : IHealthCheck
    {
        public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default) =>
            Task.FromResult(host.Current is { } model
                ? HealthCheckResult.Healthy($"model {model.Generation} loaded from {host.ModelPath}")
                : HealthCheckResult.Unhealthy("no model is loaded"));
    }
}
