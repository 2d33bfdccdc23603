using System.Text.Json;
using GrpoPipeline.Service.Http;

namespace GrpoPipeline.Service.Features;

/// <summary>Body of <c>POST /v1/sort</c>.</summary>
/// <param name="Prompt">The prompt: the model's length L, tokens in 0..V-1 (see <c>GET /v1/model</c>).</param>
public sealed record SortRequest(long[] Prompt) : IJsonBody<SortRequest>
{
    public static SortRequest Read(ref Utf8JsonReader reader, ServiceOptions options)
    {
        long[]? prompt = null;
        JsonFields.StartObject(ref reader);
        while (JsonFields.NextProperty(ref reader))
        {
            if (!reader.ValueTextEquals("prompt"u8)) throw JsonFields.Unknown(ref reader, "'prompt'");
            if (prompt is not null) throw JsonFields.Duplicate("prompt");
            JsonFields.Value(ref reader);
            prompt = JsonFields.Tokens(ref reader, "prompt");
        }
        return new SortRequest(prompt ?? throw JsonFields.Missing("prompt", "an array of integer tokens, e.g. [3, 1, 2]"));
    }
}

/// <summary>The greedy response to one prompt.</summary>
/// <param name="Response">The model's greedy (argmax) response.</param>
/// <param name="Reward">The task's inclusion + ordering reward of the response (at most 2L−1).</param>
/// <param name="Exact">Whether the response is exactly the sorted prompt.</param>
public sealed record SortResponse(long[] Response, int Reward, bool Exact);

/// <summary>Body of <c>POST /v1/sort/batch</c>.</summary>
/// <param name="Prompts">1..MaxBatch prompts, each of the model's length L with tokens in 0..V-1.</param>
public sealed record BatchSortRequest(long[][] Prompts) : IJsonBody<BatchSortRequest>
{
    public static BatchSortRequest Read(ref Utf8JsonReader reader, ServiceOptions options)
    {
        long[][]? prompts = null;
        JsonFields.StartObject(ref reader);
        while (JsonFields.NextProperty(ref reader))
        {
            if (!reader.ValueTextEquals("prompts"u8)) throw JsonFields.Unknown(ref reader, "'prompts'");
            if (prompts is not null) throw JsonFields.Duplicate("prompts");
            JsonFields.Value(ref reader);
            prompts = JsonFields.TokenRows(ref reader, "prompts", options.MaxBatch);
        }
        return new BatchSortRequest(prompts ?? throw JsonFields.Missing("prompts", "an array of prompts, e.g. [[3, 1, 2], [2, 0, 1]]"));
    }
}

/// <summary>Greedy responses to a batch, in the order of the prompts.</summary>
/// <param name="Responses">One greedy response per prompt.</param>
/// <param name="Rewards">Inclusion + ordering reward of each response.</param>
/// <param name="Exact">Whether each response is exactly its sorted prompt.</param>
public sealed record BatchSortResponse(long[][] Responses, int[] Rewards, bool[] Exact);
