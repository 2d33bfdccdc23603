using GrpoPipeline.Core;
using GrpoPipeline.Inference.Hosting;

namespace GrpoPipeline.Service;

/// <summary>
/// The HTTP API's settings, bound from the same <c>Policy</c> configuration section as the model's
/// (<see cref="PolicyModelOptions"/>: <c>ModelPath</c>, <c>IntraOpThreads</c>, hot reload). Validated when the host
/// starts: a bad value stops it with a message naming the key.
/// </summary>
public sealed class PolicyApiOptions
{
    /// <summary>Configuration section the options are bound from.</summary>
    public const string Section = PolicyModelOptions.Section;
    /// <summary>The request header that carries an API key.</summary>
    public const string ApiKeyHeader = "X-Api-Key";

    /// <summary>Most prompts one <c>/v1/respond/batch</c> request may carry. Default 1024.</summary>
    public int MaxBatch { get; set; } = 1024;
    /// <summary>Largest request body accepted, in bytes; a larger body gets a 413. Default 1 MiB.</summary>
    public long MaxRequestBodyBytes { get; set; } = 1 << 20;
    /// <summary>
    /// API keys accepted in the <c>X-Api-Key</c> header; empty (the default) leaves the API open. With keys, a request
    /// without one of them gets a 401. Health and metrics endpoints stay open.
    /// </summary>
    public List<string> ApiKeys { get; set; } = [];
    /// <summary>Per-client rate limit (token bucket); off by default.</summary>
    public RateLimitOptions RateLimit { get; set; } = new();
    /// <summary>
    /// Export the <c>GrpoPipeline</c> meter with OpenTelemetry and serve a Prometheus scrape at <c>GET /metrics</c>.
    /// Default false for apps that mount the API (they may have their own telemetry); <c>grpo serve</c> turns it on.
    /// </summary>
    public bool Metrics { get; set; }

    /// <summary>Throws <see cref="ConfigException"/> naming the first bad key, its value and what is allowed.</summary>
    public void Validate()
    {
        ConfigException.Require(MaxBatch is >= 1 and <= 65536, Key(nameof(MaxBatch)), MaxBatch, "1..65536");
        ConfigException.Require(MaxRequestBodyBytes is >= 1024 and <= 1L << 30, Key(nameof(MaxRequestBodyBytes)), MaxRequestBodyBytes, "1024..1073741824");
        for (int i = 0; i < ApiKeys.Count; i++)
            ConfigException.Require(ApiKeys[i] is { Length: >= 16 and <= 256 } key && key.All(c => c is > ' ' and <= '~'),
                $"{Key(nameof(ApiKeys))}:{i}", ApiKeys[i] is null ? null : "(hidden)", "16..256 printable ASCII characters, no spaces");
        RateLimit.Validate($"{Key(nameof(RateLimit))}");
    }

    static string Key(string property) => PolicyModelOptions.Key(property);
}

/// <summary>
/// A token bucket per client: a client holds up to <see cref="Burst"/> requests and earns
/// <see cref="PermitsPerSecond"/> back each second; a request beyond that gets a 429 with <c>Retry-After</c>. A client
/// is its API key when keys are on, else its remote address.
/// </summary>
public sealed class RateLimitOptions
{
    /// <summary>Requests per second each client earns; 0 (the default) turns rate limiting off.</summary>
    public int PermitsPerSecond { get; set; }
    /// <summary>Requests a client may send at once after being idle; 0 means the same as <see cref="PermitsPerSecond"/>. Default 0.</summary>
    public int Burst { get; set; }

    /// <summary>Whether a limit applies.</summary>
    public bool Enabled => PermitsPerSecond > 0;
    /// <summary>The bucket size in effect.</summary>
    public int EffectiveBurst => Burst > 0 ? Burst : PermitsPerSecond;

    internal void Validate(string prefix)
    {
        ConfigException.Require(PermitsPerSecond is >= 0 and <= 1_000_000, $"{prefix}:{nameof(PermitsPerSecond)}", PermitsPerSecond, "0 (off) or 1..1000000");
        ConfigException.Require(Burst is >= 0 and <= 1_000_000, $"{prefix}:{nameof(Burst)}", Burst, "0 (= PermitsPerSecond) or 1..1000000");
    }
}
