using GrpoPipeline.Inference;
using Microsoft.AspNetCore.Http.HttpResults;

namespace GrpoPipeline.Service.Http;

/// <summary>
/// The problem+json results the API returns when it refuses a request. Each one is counted in
/// <c>grpo.requests.rejected</c>, tagged with its status code.
/// </summary>
static class Problems
{
    public const string BadRequestTitle = "Invalid request";

    /// <summary>400: the body is well-formed HTTP but not what the endpoint takes; <paramref name="detail"/> says why.</summary>
    public static ProblemHttpResult BadRequest(string detail) => Refuse(StatusCodes.Status400BadRequest, BadRequestTitle, detail);

    /// <summary>401: API keys are configured and the request has none of them.</summary>
    public static ProblemHttpResult Unauthorized(string detail) => Refuse(StatusCodes.Status401Unauthorized, "Unauthorized", detail);

    /// <summary>413: the body is larger than <see cref="PolicyApiOptions.MaxRequestBodyBytes"/>.</summary>
    public static ProblemHttpResult PayloadTooLarge(string detail) => Refuse(StatusCodes.Status413PayloadTooLarge, "Request body too large", detail);

    /// <summary>415: the body is not declared as JSON.</summary>
    public static ProblemHttpResult UnsupportedMediaType(string detail) => Refuse(StatusCodes.Status415UnsupportedMediaType, "Unsupported media type", detail);

    /// <summary>429: the client used up its rate limit; the caller sets <c>Retry-After</c>.</summary>
    public static ProblemHttpResult TooManyRequests(string detail) => Refuse(StatusCodes.Status429TooManyRequests, "Too many requests", detail);

    /// <summary>503 while no model is loaded (before start-up finished, or during shutdown).</summary>
    public static ProblemHttpResult NoModel() => Refuse(StatusCodes.Status503ServiceUnavailable, "Not ready", "no model is loaded yet");

    /// <summary>503 with <c>Retry-After</c> (whole seconds): the policy's request queue is full.</summary>
    public static ProblemHttpResult Overloaded(HttpContext context, PolicyOverloadedException overload)
    {
        context.Response.Headers.RetryAfter = ((long)Math.Ceiling(overload.RetryAfter.TotalSeconds)).ToString(System.Globalization.CultureInfo.InvariantCulture);
        return Refuse(StatusCodes.Status503ServiceUnavailable, "Overloaded", overload.Message);
    }

    /// <summary>
    /// The leased model's verdict on a prompt (<see cref="PolicyContract.Problem"/>) as a detail naming the JSON
    /// field, or null when the prompt is fine; asked before inference so bad input costs no exception.
    /// </summary>
    public static string? PromptProblem(ReadOnlySpan<long> prompt, IPolicy policy, string field) =>
        policy.Contract.Problem(prompt) is { } problem ? $"'{field}': {problem}" : null;

    static ProblemHttpResult Refuse(int status, string title, string detail)
    {
        GrpoMetrics.RequestsRejected.Add(1, new KeyValuePair<string, object?>("http.response.status_code", status));
        return TypedResults.Problem(detail, statusCode: status, title: title);
    }
}
