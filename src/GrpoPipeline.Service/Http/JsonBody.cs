using System.Buffers;
using System.IO.Pipelines;
using System.Text.Json;
using System.Text.Json.Serialization.Metadata;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.Extensions.Options;

namespace GrpoPipeline.Service.Http;

/// <summary>
/// A request body: System.Text.Json parses it with the strict, source-generated options of
/// <see cref="ServiceJsonContext"/> (unknown and duplicate fields, missing required fields and wrong types are
/// errors); <see cref="Fields"/> describes each field so that <see cref="JsonBody"/> can turn the serializer's error
/// into a message naming the field, the index and the value; <see cref="Check"/> tests what JSON cannot express.
/// </summary>
interface IRequestBody<TSelf> where TSelf : class, IRequestBody<TSelf>
{
    /// <summary>The source-generated serializer of the body.</summary>
    static abstract JsonTypeInfo<TSelf> JsonType { get; }
    /// <summary>The body's fields, in the order they are documented.</summary>
    static abstract IReadOnlyList<BodyField> Fields { get; }
    /// <summary>What is wrong with a well-formed body (a range, the batch size), or null when it is fine.</summary>
    string? Check(PolicyApiOptions options);
}

/// <summary>
/// One field of a request body for error messages: its JSON name, whether it is required, and what it must be — the
/// field itself, then its items, then their items (<c>prompts</c>, <c>prompts[i]</c>, <c>prompts[i][j]</c>).
/// </summary>
sealed record BodyField(string Name, bool Required, params string[] Expected)
{
    const string Token = "an integer token";

    /// <summary>A prompt: an array of integer tokens.</summary>
    public static BodyField Prompt(string name) => new(name, true, "an array of integer tokens", Token);

    /// <summary>A batch of prompts.</summary>
    public static BodyField Prompts(string name) =>
        new(name, true, "an array of prompts (arrays of integer tokens)", "a prompt (an array of integer tokens)", Token);

    /// <summary>What the value at <paramref name="depth"/> array levels below the field must be.</summary>
    public string ExpectedAt(int depth) => Expected[Math.Min(depth, Expected.Length - 1)];
}

/// <summary>A parsed body, or the problem to send instead.</summary>
readonly record struct BodyResult<T>(T? Value, ProblemHttpResult? Problem) where T : class
{
    public static implicit operator BodyResult<T>(T value) => new(value, null);
    public static implicit operator BodyResult<T>(ProblemHttpResult problem) => new(null, problem);
}

/// <summary>
/// Reads request bodies rather than leaving them to minimal-API binding, so that every bad body gets a problem that
/// says what is wrong: a wrong content type (415), a body over <see cref="PolicyApiOptions.MaxRequestBodyBytes"/> (413),
/// or one the serializer refuses (400, with the field, index and value).
/// </summary>
static class JsonBody
{
    public static async ValueTask<BodyResult<T>> ReadAsync<T>(HttpContext context) where T : class, IRequestBody<T>
    {
        var request = context.Request;
        var options = context.RequestServices.GetRequiredService<IOptions<PolicyApiOptions>>().Value;
        long limit = options.MaxRequestBodyBytes;

        if (!request.HasJsonContentType())
            return Problems.UnsupportedMediaType(request.ContentType is { Length: > 0 } type
                ? $"Content-Type must be application/json; found '{type}'"
                : "Content-Type must be application/json; the request has none");
        if (request.ContentLength > limit)
            return TooLarge(request.ContentLength.Value, limit);
        // The server's own limit backs ours up, for this request only (other endpoints of the app keep theirs).
        if (context.Features.Get<IHttpMaxRequestBodySizeFeature>() is { IsReadOnly: false } size) size.MaxRequestBodySize = limit;

        PipeReader pipe = request.BodyReader;
        while (true)
        {
            ReadResult read;
            try { read = await pipe.ReadAsync(context.RequestAborted); }
            catch (BadHttpRequestException e) when (e.StatusCode == StatusCodes.Status413PayloadTooLarge) { return TooLarge(null, limit); }
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

    static BodyResult<T> Parse<T>(ReadOnlySequence<byte> body, PolicyApiOptions options) where T : class, IRequestBody<T>
    {
        if (body.IsEmpty) return Problems.BadRequest("the request body is empty; expected a JSON object");
        // Bodies are small (MaxRequestBodyBytes); one contiguous span lets the serializer check for trailing content.
        var bytes = body.IsSingleSegment ? body.First : body.ToArray();
        T? value;
        try { value = JsonSerializer.Deserialize(bytes.Span, T.JsonType); }
        catch (JsonException e) { return Problems.BadRequest(JsonProblem.Describe(e, bytes, T.Fields)); }
        if (value is null) return Problems.BadRequest("the request body must be a JSON object, found null");
        return value.Check(options) is { } problem ? Problems.BadRequest(problem) : value;
    }

    static ProblemHttpResult TooLarge(long? length, long limit) =>
        Problems.PayloadTooLarge(length is { } n
            ? $"the request body has {n} bytes; the limit is {limit} bytes ({PolicyApiOptions.Section}:{nameof(PolicyApiOptions.MaxRequestBodyBytes)})"
            : $"the request body is larger than the limit of {limit} bytes ({PolicyApiOptions.Section}:{nameof(PolicyApiOptions.MaxRequestBodyBytes)})");
}
