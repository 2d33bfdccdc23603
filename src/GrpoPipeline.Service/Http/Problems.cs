using GrpoPipeline.Inference;
using Microsoft.AspNetCore.Http.HttpResults;

namespace GrpoPipeline.Service.Http;

/// <summary>The problem+json results the endpoints return.</summary>
public static class Problems
{
    public const string BadRequestTitle = "Invalid request";

    /// <summary>400 with <paramref name="detail"/> saying what is wrong.</summary>
    public static ProblemHttpResult BadRequest(string detail) =>
        TypedResults.Problem(detail, statusCode: StatusCodes.Status400BadRequest, title: BadRequestTitle);

    /// <summary>503 while no model is loaded (before start-up finished, or during shutdown).</summary>
    public static ProblemHttpResult NoModel() =>
        TypedResults.Problem("no model is loaded yet", statusCode: StatusCodes.Status503ServiceUnavailable, title: "Not ready");

    /// <summary>
    /// Checks a prompt against the leased model, as <see cref="SorterPolicy"/> would, without the cost of an
    /// exception. Returns the problem's detail, or null when the prompt is fine.
    /// </summary>
    public static string? PromptProblem(ReadOnlySpan<long> prompt, SorterPolicy policy, string field)
    {
        if (prompt.Length != policy.PromptLength)
            return $"'{field}' has length {prompt.Length}; this model takes prompts of length {policy.PromptLength}";
        for (int i = 0; i < prompt.Length; i++)
            if ((ulong)prompt[i] >= (ulong)policy.VocabSize)
                return $"'{field}': token at index {i} is {prompt[i]}; tokens must be in 0..{policy.VocabSize - 1}";
        return null;
    }
}
