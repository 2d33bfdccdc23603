using System.Text.Json;
using Microsoft.AspNetCore.Diagnostics;

namespace GrpoPipeline.Service.Http;

/// <summary>
/// Last line of defence of <c>grpo serve</c> behind the endpoints' own validation: a client error that still escapes
/// as an exception (an unreadable body, bad JSON, an argument the policy refused) becomes a 4xx problem with the
/// status the server chose; anything else a 500 problem that reveals nothing but the fact.
/// </summary>
sealed partial class ProblemExceptionHandler(IProblemDetailsService problems, ILogger<ProblemExceptionHandler> logger) : IExceptionHandler
{
    public async ValueTask<bool> TryHandleAsync(HttpContext context, Exception exception, CancellationToken cancellationToken)
    {
        var (status, title, detail) = exception switch
        {
            BadHttpRequestException e => (e.StatusCode, Problems.BadRequestTitle, e.Message),
            JsonException e => (StatusCodes.Status400BadRequest, Problems.BadRequestTitle, $"malformed JSON: {e.Message}"),
            ArgumentException e => (StatusCodes.Status400BadRequest, Problems.BadRequestTitle, e.Message),
            _ => (StatusCodes.Status500InternalServerError, "Internal error", "the server failed to handle the request"),
        };
        if (status >= 500) LogUnexpected(exception, context.Request.Method, context.Request.Path);
        context.Response.StatusCode = status;
        return await problems.TryWriteAsync(new ProblemDetailsContext
        {
            HttpContext = context,
            Exception = exception,
            ProblemDetails = { Status = status, Title = title, Detail = detail },
        });
    }

    [LoggerMessage(EventId = 20, Level = LogLevel.Error, Message = "Unexpected failure handling {Method} {Path}")]
    partial void LogUnexpected(Exception exception, string method, string path);
}
