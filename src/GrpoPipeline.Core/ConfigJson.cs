using System.Text.Json;
using System.Text.Json.Serialization;

namespace GrpoPipeline.Core;

/// <summary>
/// The JSON format of configs, checkpoints and the held-out split in exported models: camelCase keys, snake_case enum
/// names, and strictness — unknown keys (matched case-sensitively, so <c>Epochs</c> is not <c>epochs</c>), a key that
/// appears twice, unknown enum names, numbers as strings and nulls for non-nullable members are errors, so a typo or a
/// file from a newer version is refused rather than misread.
/// </summary>
public static class ConfigJson
{
    /// <summary>The strict options; use them for every config-like document.</summary>
    public static readonly JsonSerializerOptions Options = new(JsonSerializerDefaults.Web)
    {
        WriteIndented = true,
        // Web defaults match names case-insensitively: {"epochs": -5, "Epochs": 3} would train 3 epochs without a word.
        PropertyNameCaseInsensitive = false,
        AllowDuplicateProperties = false,
        UnmappedMemberHandling = JsonUnmappedMemberHandling.Disallow,
        RespectNullableAnnotations = true,
        Converters = { new StrictEnumConverter() },
        NumberHandling = JsonNumberHandling.Strict,
    };

    /// <summary>A <see cref="JsonException"/>'s message without the "Path: … | LineNumber: …" tail System.Text.Json adds.</summary>
    public static string Describe(JsonException e) => e.Message.Split(" Path: ")[0];

    /// <summary>The key a <see cref="JsonException"/> points at, spelled like config keys ("grpo.groupSize"), or "$".</summary>
    public static string KeyOf(JsonException e) => e.Path is null or "$" ? "$" : e.Path.StartsWith("$.") ? e.Path[2..] : e.Path;
}

/// <summary>
/// Enums as snake_case strings (<c>batch_normalized</c>, <c>k3</c>). Anything else — an unknown name, a number —
/// fails with a message that lists the allowed names.
/// </summary>
sealed class StrictEnumConverter : JsonConverterFactory
{
    public override bool CanConvert(Type type) => type.IsEnum;

    public override JsonConverter CreateConverter(Type type, JsonSerializerOptions options) =>
        (JsonConverter)Activator.CreateInstance(typeof(Converter<>).MakeGenericType(type))!;

    sealed class Converter<T> : JsonConverter<T> where T : struct, Enum
    {
        static readonly Dictionary<string, T> ByName = Enum.GetValues<T>().ToDictionary(Name);
        static readonly string Allowed = string.Join(", ", ByName.Keys);

        static string Name(T value) => JsonNamingPolicy.SnakeCaseLower.ConvertName(value.ToString());

        public override T Read(ref Utf8JsonReader reader, Type type, JsonSerializerOptions options)
        {
            var text = reader.TokenType == JsonTokenType.String ? reader.GetString() : null;
            if (text is not null && ByName.TryGetValue(text, out var value)) return value;
            var found = text is null ? $"a {reader.TokenType}" : $"\"{text}\"";
            throw new JsonException($"{found} is not allowed; use one of {Allowed}");
        }

        public override void Write(Utf8JsonWriter writer, T value, JsonSerializerOptions options) => writer.WriteStringValue(Name(value));
    }
}
