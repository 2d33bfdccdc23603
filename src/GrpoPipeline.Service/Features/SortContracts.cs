using System.Text.Json.Serialization.Metadata;
using GrpoPipeline.Inference;
using GrpoPipeline.Service.Http;

namespace GrpoPipeline.Service.Features;

/// <summary>Body of <c>POST /v1/sort</c>.</summary>
/// <param name="Prompt">The prompt: a length and tokens the model accepts (see <c>GET /v1/model</c>).</param>
public sealed record SortRequest(long[] Prompt) : IRequestBody<SortRequest>
{
    static JsonTypeInfo<SortRequest> IRequestBody<SortRequest>.JsonType => ServiceJsonContext.Default.SortRequest;
    static IReadOnlyList<BodyField> IRequestBody<SortRequest>.Fields { get; } = [BodyField.Prompt("prompt")];
    string? IRequestBody<SortRequest>.Check(SorterApiOptions options) => null;
}

/// <summary>The greedy response to one prompt.</summary>
/// <param name="Response">The model's greedy (argmax) response; a decoder's without its EOS.</param>
/// <param name="Rewards">The response's reward components.</param>
/// <param name="Truncated">A decoder's response that reached maxLength + 1 tokens without EOS; always false for a sorter.</param>
public sealed record SortResponse(long[] Response, SortScore Rewards, bool Truncated);

/// <summary>Body of <c>POST /v1/sort/batch</c>.</summary>
/// <param name="Prompts">1..MaxBatch prompts, each of a length and with tokens the model accepts.</param>
public sealed record BatchSortRequest(long[][] Prompts) : IRequestBody<BatchSortRequest>
{
    static readonly BodyField PromptsField = BodyField.Prompts("prompts");
    static JsonTypeInfo<BatchSortRequest> IRequestBody<BatchSortRequest>.JsonType => ServiceJsonContext.Default.BatchSortRequest;
    static IReadOnlyList<BodyField> IRequestBody<BatchSortRequest>.Fields { get; } = [PromptsField];

    string? IRequestBody<BatchSortRequest>.Check(SorterApiOptions options)
    {
        if (Prompts.Length == 0) return "'prompts' is empty; send at least one prompt";
        if (Prompts.Length > options.MaxBatch)
            return $"'prompts' has {Prompts.Length} prompts; the largest batch is {options.MaxBatch} ({SorterApiOptions.Section}:{nameof(SorterApiOptions.MaxBatch)})";
        // The serializer enforces nullability on properties, not on array elements.
        int row = Array.IndexOf(Prompts, null);
        return row >= 0 ? $"'prompts[{row}]' must be {PromptsField.ExpectedAt(1)}, found null" : null;
    }
}

/// <summary>Greedy responses to a batch, in the order of the prompts.</summary>
/// <param name="Responses">One greedy response per prompt.</param>
/// <param name="Rewards">The reward components of each response.</param>
/// <param name="Truncated">Whether each response was cut at the cap without EOS (decoders only).</param>
public sealed record BatchSortResponse(long[][] Responses, SortScore[] Rewards, bool[] Truncated);
