using GrpoPipeline.Service;
using GrpoPipeline.Service.Features;
using GrpoPipeline.Service.Http;
using Microsoft.Extensions.Options;

// The conventional namespace of endpoint-mapping extensions, so they show up without an extra using.
namespace Microsoft.AspNetCore.Builder;

/// <summary>Mounts the policy API on any ASP.NET Core app.</summary>
public static class PolicyApiEndpointRouteBuilderExtensions
{
    /// <summary>
    /// Maps <c>POST /v1/respond</c>, <c>POST /v1/respond/batch</c>, <c>POST /v1/sample</c> and <c>GET /v1/model</c>
    /// (and <c>POST /v1/sort</c>, <c>/v1/sort/batch</c>, their 0.2 names, for sorting models)
    /// (with API keys and the rate limit from <see cref="PolicyApiOptions"/>, problem+json for every refusal, and OpenAPI
    /// metadata), and <c>GET /metrics</c> when <c>Policy:Metrics</c> is on. Needs
    /// <see cref="Microsoft.Extensions.DependencyInjection.PolicyApiServiceCollectionExtensions.AddGrpoApi"/>.
    /// Returns the <c>/v1</c> group for further conventions (authorization, CORS, …).
    /// </summary>
    public static RouteGroupBuilder MapGrpoApi(this IEndpointRouteBuilder routes)
    {
        var services = routes.ServiceProvider;
        if (services.GetService<ApiKeyFilter>() is not { } apiKeys)
            throw new InvalidOperationException("MapGrpoApi needs services.AddGrpoApi(configuration) first");
        var options = services.GetRequiredService<IOptions<PolicyApiOptions>>();
        var api = routes.MapGroup("/v1");
        // Filter instances from DI: AddEndpointFilter<T>() would build a new one per request, and a rate limiter that
        // forgets its buckets between requests limits nothing.
        api.AddEndpointFilter(apiKeys);
        if (options.Value.RateLimit.Enabled) api.AddEndpointFilter(services.GetRequiredService<RateLimitFilter>());
        foreach (int status in new[] { 400, 401, 413, 415, 429, 503 }) api.ProducesProblem(status);
        api.MapRespond();
        api.MapSample();
        api.MapModel();

        if (options.Value.Metrics) routes.MapPrometheusScrapingEndpoint();   // GET /metrics
        return api;
    }
}
