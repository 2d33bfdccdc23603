using System.Globalization;
using System.Threading.RateLimiting;
using Microsoft.Extensions.Options;

namespace GrpoPipeline.Service.Http;

/// <summary>
/// Per-client rate limiting with System.Threading.RateLimiting's token bucket (the limiter behind ASP.NET Core's
/// rate-limiting middleware), applied by an endpoint filter on the API's group so it works without the app calling
/// <c>UseRateLimiter()</c>. A client is its API key when keys are configured, else its remote address. A refused
/// request gets a 429 problem with <c>Retry-After</c> in whole seconds.
/// </summary>
sealed class RateLimitFilter : IEndpointFilter, IDisposable
{
    readonly PartitionedRateLimiter<HttpContext> _limiter;

    public RateLimitFilter(IOptions<PolicyApiOptions> options)
    {
        var limit = options.Value.RateLimit;
        var bucket = new TokenBucketRateLimiterOptions
        {
            TokenLimit = limit.EffectiveBurst,
            TokensPerPeriod = limit.PermitsPerSecond,
            ReplenishmentPeriod = TimeSpan.FromSeconds(1),
            QueueLimit = 0,
            AutoReplenishment = true,
        };
        _limiter = PartitionedRateLimiter.Create<HttpContext, string>(context =>
            RateLimitPartition.GetTokenBucketLimiter(ClientOf(context), _ => bucket));
    }

    public async ValueTask<object?> InvokeAsync(EndpointFilterInvocationContext context, EndpointFilterDelegate next)
    {
        using var lease = _limiter.AttemptAcquire(context.HttpContext);
        if (lease.IsAcquired) return await next(context);
        var retryAfter = lease.TryGetMetadata(MetadataName.RetryAfter, out var wait) ? wait : TimeSpan.FromSeconds(1);
        int seconds = Math.Max(1, (int)Math.Ceiling(retryAfter.TotalSeconds));
        context.HttpContext.Response.Headers.RetryAfter = seconds.ToString(CultureInfo.InvariantCulture);
        return Problems.TooManyRequests($"rate limit exceeded for this client; retry after {seconds} s ({PolicyApiOptions.Section}:{nameof(PolicyApiOptions.RateLimit)})");
    }

    static string ClientOf(HttpContext context) =>
        context.Request.Headers[PolicyApiOptions.ApiKeyHeader] is { Count: > 0 } key && !string.IsNullOrEmpty(key[0])
            ? "key:" + key[0]
            : "ip:" + (context.Connection.RemoteIpAddress?.ToString() ?? "unknown");

    public void Dispose() => _limiter.Dispose();
}
