using System.Text.Json;

namespace GrpoPipeline.Service.Http;

/// <summary>
/// Turns System.Text.Json's refusal of a body into a message a client can act on. The serializer says where it
/// stopped (<see cref="JsonException.Path"/>); the body, read again as a document, says what is there.
/// </summary>
static class JsonProblem
{
    public static string Describe(JsonException error, ReadOnlyMemory<byte> body, IReadOnlyList<BodyField> fields)
    {
        JsonDocument document;
        try { document = JsonDocument.Parse(body); }
        catch (JsonException malformed) { return $"malformed JSON: {malformed.Message}"; }
        using (document)
        {
            var root = document.RootElement;
            if (root.ValueKind != JsonValueKind.Object) return $"the request body must be a JSON object, found {Found(root)}";

            var seen = new HashSet<string>(StringComparer.Ordinal);
            foreach (var property in root.EnumerateObject())
            {
                if (!fields.Any(f => f.Name == property.Name))
                    return $"unknown field '{property.Name}'; expected {string.Join(", ", fields.Select(f => $"'{f.Name}'"))}";
                if (!seen.Add(property.Name)) return $"field '{property.Name}' appears more than once";
            }
            foreach (var field in fields)
                if (field.Required && !seen.Contains(field.Name)) return $"field '{field.Name}' is required: {field.ExpectedAt(0)}";

            if (Locate(root, error.Path) is var (where, name, depth, value) && fields.FirstOrDefault(f => f.Name == name) is { } bad)
                return $"'{where}' must be {bad.ExpectedAt(depth)}, found {Found(value)}";
            return $"malformed JSON: {error.Message}";
        }
    }

    /// <summary>
    /// The element at a serializer path such as <c>$.prompts[1][2]</c>: its path as the client wrote it
    /// (<c>prompts[1][2]</c>), the top-level field, how many array levels below it, and the value.
    /// </summary>
    static (string Where, string Field, int Depth, JsonElement Value)? Locate(JsonElement root, string? path)
    {
        if (path is null || !path.StartsWith("$.", StringComparison.Ordinal)) return null;
        int end = path.IndexOf('[');
        string field = end < 0 ? path[2..] : path[2..end];
        if (!root.TryGetProperty(field, out var value)) return null;
        int depth = 0;
        for (int i = end; i >= 0 && i < path.Length; depth++)
        {
            int close = path.IndexOf(']', i);
            if (close < 0 || !int.TryParse(path.AsSpan(i + 1, close - i - 1), out int index)
                || value.ValueKind != JsonValueKind.Array || index >= value.GetArrayLength()) return null;
            value = value[index];
            i = close + 1 < path.Length && path[close + 1] == '[' ? close + 1 : -1;
        }
        return (path[2..], field, depth, value);
    }

    /// <summary>A value as a client would recognise it: <c>a string "abc"</c>, <c>1.5</c>, <c>null</c>, <c>an array</c>.</summary>
    static string Found(JsonElement value) => value.ValueKind switch
    {
        JsonValueKind.Null => "null",
        JsonValueKind.True => "true",
        JsonValueKind.False => "false",
        JsonValueKind.Number => Shorten(value.GetRawText()),
        JsonValueKind.String => $"a string \"{Shorten(value.GetString() ?? "")}\"",
        JsonValueKind.Array => "an array",
        JsonValueKind.Object => "an object",
        _ => value.ValueKind.ToString(),
    };

    static string Shorten(string text) => text.Length <= 40 ? text : text[..40] + "…";
}
