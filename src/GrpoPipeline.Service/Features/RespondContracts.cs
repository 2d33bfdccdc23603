using System.Text.Json.Serialization.Metadata;
using GrpoPipeline.Inference;
using GrpoPipeline.Service.Http;

namespace GrpoPipeline.Service.Features;

/// <summary>Body of <c>POST /v1/respond</c> (and of <c>POST /v1/sort</c>, its alias for sorting models).</summary>
/// <param name="Prompt">The prompt: one the model's task takes (see <c>GET /v1/model</c>).</param>
public sealed record RespondRequest(long[] Prompt) : IRequestBody<RespondRequest>
{
    static JsonTypeInfo<RespondRequest> IRequestBody<RespondRequest>.JsonType => ServiceJsonContext.Default.RespondRequest;
    static IReadOnlyList<BodyField> IRequestBody<RespondRequest>.Fields { get; } = [BodyField.Prompt("prompt")];
    string? IRequestBody<RespondRequest>.Check(PolicyApiOptions options) => null;
}

/// <summary>The greedy response to one prompt.</summary>
/// <param name="Response">The model's greedy (argmax) response; a decoder's without its EOS.</param>
/// <param name="Rewards">The response's reward components by the task's names, or null when the model's task is not
/// registered in the serving app (<c>GET /v1/model</c> says why).</param>
/// <param name="Truncated">A decoder's response that reached its longest without EOS; always false for a factorised policy.</param>
public sealed record RespondResponse(long[] Response, RewardScore? Rewards, bool Truncated);

/// <summary>Body of <c>POST /v1/respond/batch</c> (and of <c>POST /v1/sort/batch</c>).</summary>
/// <param name="Prompts">1..MaxBatch prompts, each one the model's task takes.</param>
public sealed record BatchRespondRequest(long[][] Prompts) : IRequestBody<BatchRespondRequest>
{
    static readonly BodyField PromptsField = BodyField.Prompts("prompts");
    static JsonTypeInfo<BatchRespondRequest> IRequestBody<BatchRespondRequest>.JsonType => ServiceJsonContext.Default.BatchRespondRequest;
    static IReadOnlyList<BodyField> IRequestBody<BatchRespondRequest>.Fields { get; } = [PromptsField];

    string? IRequestBody<BatchRespondRequest>.Check(PolicyApiOptions options)
    {
        if (Prompts.Length == 0) return "'prompts' is empty; send at least one prompt";
        if (Prompts.Length > options.MaxBatch)
            return $"'prompts' has {Prompts.Length} prompts; the largest batch is {options.MaxBatch} ({PolicyApiOptions.Section}:{nameof(PolicyApiOptions.MaxBatch)})";
        // The serializer enforces nullability on properties, not on array elements.
        int row = Array.IndexOf(Prompts, null);
        return row >= 0 ? $"'prompts[{row}]' must be {PromptsField.ExpectedAt(1)}, found null" : null;
    }
}

/// <summary>Greedy responses to a batch, in the order of the prompts.</summary>
/// <param name="Responses">One greedy response per prompt.</param>
/// <param name="Rewards">The reward components of each response; null when the model's task is not registered in the serving app.</param>
/// <param name="Truncated">Whether each response was cut at its longest without EOS (decoders only).</param>
public sealed record BatchRespondResponse(long[][] Responses, RewardScore[]? Rewards, bool[] Truncated);
