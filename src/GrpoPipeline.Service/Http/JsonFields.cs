using System.Text;
using System.Text.Json;

namespace GrpoPipeline.Service.Http;

/// <summary>
/// Strict readers for the few shapes the API takes: an object of known fields, integer token arrays, and numbers.
/// Every failure throws <see cref="BadRequestBodyException"/> naming the field, the position and what was found.
/// </summary>
public static class JsonFields
{
    /// <summary>Reads the opening brace of the body.</summary>
    public static void StartObject(ref Utf8JsonReader reader)
    {
        if (!reader.Read()) throw new BadRequestBodyException("the request body is empty; expected a JSON object");
        if (reader.TokenType != JsonTokenType.StartObject)
            throw new BadRequestBodyException($"the request body must be a JSON object, found {Describe(ref reader)}");
    }

    /// <summary>Moves to the next property name; false at the closing brace.</summary>
    public static bool NextProperty(ref Utf8JsonReader reader)
    {
        reader.Read();
        return reader.TokenType == JsonTokenType.PropertyName;
    }

    /// <summary>Moves from a property name to its value.</summary>
    public static void Value(ref Utf8JsonReader reader) => reader.Read();

    public static BadRequestBodyException Unknown(ref Utf8JsonReader reader, string expected) =>
        new($"unknown field '{reader.GetString()}'; expected {expected}");

    public static BadRequestBodyException Duplicate(string field) => new($"field '{field}' appears more than once");

    public static BadRequestBodyException Missing(string field, string what) => new($"field '{field}' is required: {what}");

    /// <summary>An array of integer tokens, e.g. <c>[3, 1, 2]</c>; range and length are the model's to check.</summary>
    public static long[] Tokens(ref Utf8JsonReader reader, string field)
    {
        if (reader.TokenType != JsonTokenType.StartArray)
            throw new BadRequestBodyException($"'{field}' must be an array of integer tokens, found {Describe(ref reader)}");

        // Count first on a copy of the reader, so the result is allocated once at its exact size.
        var scan = reader;
        int count = 0;
        while (scan.Read() && scan.TokenType != JsonTokenType.EndArray)
        {
            if (scan.TokenType != JsonTokenType.Number || !scan.TryGetInt64(out _))
                throw new BadRequestBodyException($"'{field}[{count}]' must be an integer token, found {Describe(ref scan)}");
            count++;
        }

        var tokens = new long[count];
        for (int i = 0; i < count; i++)
        {
            reader.Read();
            tokens[i] = reader.GetInt64();
        }
        reader.Read();   // the closing bracket
        return tokens;
    }

    /// <summary>An array of token arrays with 1..<paramref name="maxCount"/> rows.</summary>
    public static long[][] TokenRows(ref Utf8JsonReader reader, string field, int maxCount)
    {
        if (reader.TokenType != JsonTokenType.StartArray)
            throw new BadRequestBodyException($"'{field}' must be an array of prompts (arrays of integer tokens), found {Describe(ref reader)}");

        var scan = reader;
        int count = 0;
        while (scan.Read() && scan.TokenType != JsonTokenType.EndArray)
        {
            count++;
            scan.Skip();
        }
        if (count == 0) throw new BadRequestBodyException($"'{field}' is empty; send at least one prompt");
        if (count > maxCount)
            throw new BadRequestBodyException($"'{field}' has {count} prompts; the largest batch is {maxCount} ({ServiceOptions.Section}:{nameof(ServiceOptions.MaxBatch)})");

        var rows = new long[count][];
        for (int i = 0; i < count; i++)
        {
            reader.Read();
            rows[i] = Tokens(ref reader, $"{field}[{i}]");
        }
        reader.Read();
        return rows;
    }

    /// <summary>An integer in <paramref name="min"/>..<paramref name="max"/>.</summary>
    public static int Int32(ref Utf8JsonReader reader, string field, int min, int max)
    {
        if (reader.TokenType != JsonTokenType.Number || !reader.TryGetInt64(out long value))
            throw new BadRequestBodyException($"'{field}' must be an integer in {min}..{max}, found {Describe(ref reader)}");
        if (value < min || value > max)
            throw new BadRequestBodyException($"'{field}' is {value}; allowed {min}..{max}");
        return (int)value;
    }

    /// <summary>A non-negative integer up to 2^64−1.</summary>
    public static ulong UInt64(ref Utf8JsonReader reader, string field)
    {
        if (reader.TokenType != JsonTokenType.Number || !reader.TryGetUInt64(out ulong value))
            throw new BadRequestBodyException($"'{field}' must be an integer in 0..{ulong.MaxValue}, found {Describe(ref reader)}");
        return value;
    }

    /// <summary>A number in <paramref name="min"/>..<paramref name="max"/>.</summary>
    public static double Double(ref Utf8JsonReader reader, string field, double min, double max)
    {
        if (reader.TokenType != JsonTokenType.Number || !reader.TryGetDouble(out double value) || !double.IsFinite(value))
            throw new BadRequestBodyException($"'{field}' must be a number in {min}..{max}, found {Describe(ref reader)}");
        if (value < min || value > max)
            throw new BadRequestBodyException($"'{field}' is {Raw(ref reader)}; allowed {min}..{max}");
        return value;
    }

    /// <summary>The current token as a client would recognise it: <c>a string "abc"</c>, <c>1.5</c>, <c>null</c>.</summary>
    public static string Describe(ref Utf8JsonReader reader) => reader.TokenType switch
    {
        JsonTokenType.Null => "null",
        JsonTokenType.True => "true",
        JsonTokenType.False => "false",
        JsonTokenType.Number => Raw(ref reader),
        JsonTokenType.String => $"a string \"{Shorten(reader.GetString() ?? "")}\"",
        JsonTokenType.StartArray => "an array",
        JsonTokenType.StartObject => "an object",
        JsonTokenType.EndArray => "the end of the array",
        JsonTokenType.EndObject => "the end of the object",
        _ => reader.TokenType.ToString(),
    };

    static string Raw(ref Utf8JsonReader reader) =>
        Shorten(reader.HasValueSequence ? Encoding.UTF8.GetString(reader.ValueSequence) : Encoding.UTF8.GetString(reader.ValueSpan));

    static string Shorten(string text) => text.Length <= 40 ? text : text[..40] + "…";
}
