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
    /// The leased model's verdict on a prompt (<see cref="SorterPolicy.PromptProblem"/>) as a detail naming the JSON
    /// field, or null when the prompt is fine; asked before inference so bad input costs no exception.
    /// </summary>
    public static string? PromptProblem(ReadOnlySpan<long> prompt, SorterPolicy policy, string field) =>
        policy.PromptProblem(prompt) is { } problem ? $"'{field}': {problem}" : null;
}
