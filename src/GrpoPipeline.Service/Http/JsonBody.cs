using System.Buffers;
using System.IO.Pipelines;
using System.Text.Json;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.Extensions.Options;

namespace GrpoPipeline.Service.Http;

/// <summary>A request body that parses itself from JSON and says exactly what is wrong with a bad one.</summary>
public interface IJsonBody<TSelf> where TSelf : IJsonBody<TSelf>
{
    /// <summary>
    /// Reads the whole body; <paramref name="reader"/> is positioned before the first token. Throws
    /// <see cref="BadRequestBodyException"/> for a well-formed body with bad content.
    /// </summary>
    static abstract TSelf Read(ref Utf8JsonReader reader, ServiceOptions options);
}

/// <summary>The body is well-formed JSON but not what the endpoint takes; the message is the problem's detail.</summary>
public sealed class BadRequestBodyException(string detail) : Exception(detail);

/// <summary>A parsed body, or the 400 problem to send instead.</summary>
public readonly record struct BodyResult<T>(T? Value, ProblemHttpResult? Problem) where T : class
{
    public static implicit operator BodyResult<T>(T value) => new(value, null);
    public static implicit operator BodyResult<T>(ProblemHttpResult problem) => new(null, problem);
}

/// <summary>
/// Reads request bodies by hand rather than through minimal-API binding, so that every bad body — wrong content type,
/// too large, malformed, wrong shape — becomes a 400 problem that names the problem, and nothing reaches a handler
/// half-bound. The body is parsed straight from the request pipe's buffers without copying it.
/// </summary>
public static class JsonBody
{
    static readonly JsonReaderOptions ReaderOptions = new() { CommentHandling = JsonCommentHandling.Disallow, MaxDepth = 16 };

    public static async ValueTask<BodyResult<T>> ReadAsync<T>(HttpContext context) where T : class, IJsonBody<T>
    {
        var request = context.Request;
        var options = context.RequestServices.GetRequiredService<IOptions<ServiceOptions>>().Value;
        long limit = options.MaxRequestBodyBytes;

        if (!request.HasJsonContentType())
            return Problems.BadRequest(request.ContentType is { Length: > 0 } type
                ? $"Content-Type must be application/json; found '{type}'"
                : "Content-Type must be application/json; the request has none");
        if (request.ContentLength > limit)
            return TooLarge(request.ContentLength.Value, limit);

        PipeReader pipe = request.BodyReader;
        while (true)
        {
            ReadResult read;
            try { read = await pipe.ReadAsync(context.RequestAborted); }
            catch (BadHttpRequestException e) { return Problems.BadRequest($"could not read the request body: {e.Message}"); }

            var buffer = read.Buffer;
            if (buffer.Length > limit)
            {
                pipe.AdvanceTo(buffer.Start, buffer.End);
                return TooLarge(null, limit);
            }
            if (read.IsCompleted || read.IsCanceled)
            {
                try { return Parse<T>(buffer, options); }
                finally { pipe.AdvanceTo(buffer.End); }
            }
            pipe.AdvanceTo(buffer.Start, buffer.End);   // not done: ask for more, keep all of it
        }
    }

    static BodyResult<T> Parse<T>(ReadOnlySequence<byte> body, ServiceOptions options) where T : class, IJsonBody<T>
    {
        if (body.IsEmpty) return Problems.BadRequest("the request body is empty; expected a JSON object");
        try
        {
            var reader = new Utf8JsonReader(body, ReaderOptions);
            var value = T.Read(ref reader, options);
            if (reader.Read()) throw new BadRequestBodyException("unexpected content after the JSON object");
            return value;
        }
        catch (JsonException e) { return Problems.BadRequest($"malformed JSON: {e.Message}"); }
        catch (BadRequestBodyException e) { return Problems.BadRequest(e.Message); }
    }

    static ProblemHttpResult TooLarge(long? length, long limit) =>
        Problems.BadRequest(length is { } n
            ? $"the request body has {n} bytes; the limit is {limit} bytes ({ServiceOptions.Section}:{nameof(ServiceOptions.MaxRequestBodyBytes)})"
            : $"the request body is larger than the limit of {limit} bytes ({ServiceOptions.Section}:{nameof(ServiceOptions.MaxRequestBodyBytes)})");
}
