using System.Text.Json;
using GrpoPipeline.Service.Http;

namespace GrpoPipeline.Service.Features;

/// <summary>Body of <c>POST /v1/sample</c>.</summary>
/// <param name="Prompt">The prompt: the model's length L, tokens in 0..V-1.</param>
/// <param name="N">How many responses to draw, 1..256.</param>
/// <param name="Temperature">Sampling temperature in 0.01..100; responses come from softmax(logits / T). Default 1.</param>
/// <param name="Seed">Seed of the draw: the same seed gives the same responses. Default: a random seed, echoed back.</param>
public sealed record SampleRequest(long[] Prompt, int N, double? Temperature, ulong? Seed) : IJsonBody<SampleRequest>
{
    public const int MaxSamples = 256;
    public const double MinTemperature = 0.01;
    public const double MaxTemperature = 100;

    public static SampleRequest Read(ref Utf8JsonReader reader, ServiceOptions options)
    {
        const string expected = "'prompt', 'n', 'temperature', 'seed'";
        long[]? prompt = null;
        int? n = null;
        double? temperature = null;
        ulong? seed = null;
        JsonFields.StartObject(ref reader);
        while (JsonFields.NextProperty(ref reader))
        {
            if (reader.ValueTextEquals("prompt"u8))
            {
                if (prompt is not null) throw JsonFields.Duplicate("prompt");
                JsonFields.Value(ref reader);
                prompt = JsonFields.Tokens(ref reader, "prompt");
            }
            else if (reader.ValueTextEquals("n"u8))
            {
                if (n is not null) throw JsonFields.Duplicate("n");
                JsonFields.Value(ref reader);
                n = JsonFields.Int32(ref reader, "n", 1, MaxSamples);
            }
            else if (reader.ValueTextEquals("temperature"u8))
            {
                if (temperature is not null) throw JsonFields.Duplicate("temperature");
                JsonFields.Value(ref reader);
                temperature = JsonFields.Double(ref reader, "temperature", MinTemperature, MaxTemperature);
            }
            else if (reader.ValueTextEquals("seed"u8))
            {
                if (seed is not null) throw JsonFields.Duplicate("seed");
                JsonFields.Value(ref reader);
                seed = JsonFields.UInt64(ref reader, "seed");
            }
            else throw JsonFields.Unknown(ref reader, expected);
        }
        return new SampleRequest(
            prompt ?? throw JsonFields.Missing("prompt", "an array of integer tokens, e.g. [3, 1, 2]"),
            n ?? throw JsonFields.Missing("n", $"the number of responses to draw, 1..{MaxSamples}"),
            temperature, seed);
    }
}

/// <summary>Sampled responses and their rewards.</summary>
/// <param name="Responses">N responses, each position drawn from softmax(logits / T).</param>
/// <param name="Rewards">Inclusion + ordering reward of each response.</param>
/// <param name="Seed">The seed used; send it back to draw the same responses.</param>
public sealed record SampleResponse(long[][] Responses, int[] Rewards, ulong Seed);
