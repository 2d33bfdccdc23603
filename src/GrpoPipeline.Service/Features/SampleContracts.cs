using System.Globalization;
using System.Text.Json.Serialization.Metadata;
using GrpoPipeline.Inference;
using GrpoPipeline.Service.Http;

namespace GrpoPipeline.Service.Features;

/// <summary>Body of <c>POST /v1/sample</c>.</summary>
/// <param name="Prompt">The prompt: a length and tokens the model accepts.</param>
/// <param name="N">How many responses to draw, 1..256.</param>
/// <param name="Temperature">Sampling temperature in 0.01..100; responses come from softmax(logits / T). Default 1.</param>
/// <param name="Seed">Seed of the draw: the same seed gives the same responses. Default: a random seed, echoed back.</param>
public sealed record SampleRequest(long[] Prompt, int N, double? Temperature = null, ulong? Seed = null) : IRequestBody<SampleRequest>
{
    /// <summary>Most responses one request may draw.</summary>
    public const int MaxSamples = 256;
    /// <summary>Lowest sampling temperature.</summary>
    public const double MinTemperature = 0.01;
    /// <summary>Highest sampling temperature.</summary>
    public const double MaxTemperature = 100;

    static JsonTypeInfo<SampleRequest> IRequestBody<SampleRequest>.JsonType => ServiceJsonContext.Default.SampleRequest;

    static IReadOnlyList<BodyField> IRequestBody<SampleRequest>.Fields { get; } =
    [
        BodyField.Prompt("prompt"),
        new("n", true, $"an integer in 1..{MaxSamples}"),
        new("temperature", false, $"a number in {MinTemperature}..{MaxTemperature}"),
        new("seed", false, $"an integer in 0..{ulong.MaxValue}"),
    ];

    string? IRequestBody<SampleRequest>.Check(PolicyApiOptions options) =>
        N is < 1 or > MaxSamples ? $"'n' is {N}; allowed 1..{MaxSamples}"
        : Temperature is { } t && !(t is >= MinTemperature and <= MaxTemperature)
            ? $"'temperature' is {t.ToString(CultureInfo.InvariantCulture)}; allowed {MinTemperature}..{MaxTemperature}"
        : null;
}

/// <summary>Sampled responses and their rewards.</summary>
/// <param name="Responses">N responses drawn at the requested temperature.</param>
/// <param name="Rewards">The reward components of each response; null when the model's task is not registered in the serving app.</param>
/// <param name="Truncated">Whether each response was cut at the cap without EOS (decoders only).</param>
/// <param name="Seed">The seed used; send it back to draw the same responses.</param>
public sealed record SampleResponse(long[][] Responses, RewardScore[]? Rewards, bool[] Truncated, ulong Seed);
