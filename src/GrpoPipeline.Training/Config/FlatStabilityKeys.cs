using System.Text;
using System.Text.Json;
using GrpoPipeline.Core;

namespace GrpoPipeline.Training;

/// <summary>
/// Reads the flat stability keys of 0.2 (<c>grpo.dynamicSampling: true</c>, <c>dynamicSamplingMaxBatches</c>,
/// <c>entropyCoef</c>, <c>entropyTarget</c>, <c>entropyCoefStep</c>, <c>entropyCoefMax</c>, <c>overlapRollouts</c>,
/// <c>isTruncation</c>) as the nested tools of 0.3 (<see cref="DynamicSamplingOptions"/>, <see cref="EntropyOptions"/>,
/// <see cref="OverlapOptions"/>), so configs, checkpoints and exported models written before load and train exactly as
/// they did. It rewrites the JSON text before the strict deserialiser sees it: every other key, an unknown or a
/// duplicated one included, reaches the deserialiser as it was written and fails there with its path. A document
/// without a flat key is returned unchanged.
/// </summary>
static class FlatStabilityKeys
{
    const string DynamicSampling = "dynamicSampling", DynamicSamplingMaxBatches = "dynamicSamplingMaxBatches";
    const string EntropyCoef = "entropyCoef", EntropyTarget = "entropyTarget", EntropyCoefStep = "entropyCoefStep", EntropyCoefMax = "entropyCoefMax";
    const string OverlapRollouts = "overlapRollouts", IsTruncation = "isTruncation";

    /// <summary>Each flat key, and the nested key of 0.3 whose tool it belongs to.</summary>
    static readonly Dictionary<string, string> ToolOf = new(StringComparer.Ordinal)
    {
        [DynamicSampling] = "dynamicSampling", [DynamicSamplingMaxBatches] = "dynamicSampling",
        [EntropyCoef] = "entropy", [EntropyTarget] = "entropy", [EntropyCoefStep] = "entropy", [EntropyCoefMax] = "entropy",
        [OverlapRollouts] = "overlap", [IsTruncation] = "overlap",
    };

    /// <summary>
    /// <paramref name="json"/> with the flat keys of its <c>grpo</c> object nested; <paramref name="configKey"/> names the
    /// property that holds the config (<c>config</c> in a checkpoint manifest), null when the document is the config.
    /// Throws <see cref="ConfigException"/> for a flat key next to the nested key of the same tool, or given twice.
    /// </summary>
    public static string Nest(string json, string? configKey = null)
    {
        JsonDocument document;
        try { document = JsonDocument.Parse(json); }
        catch (JsonException) { return json; }   // not JSON: the deserialiser says where
        using (document)
        {
            string[] path = configKey is null ? ["grpo"] : [configKey, "grpo"];
            var grpo = document.RootElement;
            foreach (var key in path)
                if (grpo.ValueKind != JsonValueKind.Object || !grpo.TryGetProperty(key, out grpo)) return json;
            if (grpo.ValueKind != JsonValueKind.Object || !grpo.EnumerateObject().Any(IsFlat)) return json;

            using var buffer = new MemoryStream();
            using (var writer = new Utf8JsonWriter(buffer))
                CopyNesting(writer, document.RootElement, path, 0);
            return Encoding.UTF8.GetString(buffer.ToArray());
        }
    }

    /// <summary>A 0.2 key: any of them but <c>dynamicSampling</c>, which is flat when it is a boolean.</summary>
    static bool IsFlat(JsonProperty p) => ToolOf.ContainsKey(p.Name) &&
        (p.Name != DynamicSampling || p.Value.ValueKind is JsonValueKind.True or JsonValueKind.False);

    /// <summary>Copies <paramref name="element"/>, nesting the flat keys of the object at <paramref name="path"/>.</summary>
    static void CopyNesting(Utf8JsonWriter writer, JsonElement element, string[] path, int depth)
    {
        if (depth == path.Length) { WriteGrpo(writer, element); return; }
        writer.WriteStartObject();
        foreach (var p in element.EnumerateObject())
        {
            writer.WritePropertyName(p.Name);
            if (p.Name == path[depth] && p.Value.ValueKind == JsonValueKind.Object) CopyNesting(writer, p.Value, path, depth + 1);
            else p.Value.WriteTo(writer);
        }
        writer.WriteEndObject();
    }

    static void WriteGrpo(Utf8JsonWriter writer, JsonElement grpo)
    {
        var flat = new Dictionary<string, JsonElement>(StringComparer.Ordinal);
        var nested = new HashSet<string>(StringComparer.Ordinal);
        writer.WriteStartObject();
        foreach (var p in grpo.EnumerateObject())
        {
            if (!IsFlat(p))
            {
                if (ToolOf.ContainsValue(p.Name)) nested.Add(p.Name);
                writer.WritePropertyName(p.Name);
                p.Value.WriteTo(writer);
            }
            else if (!flat.TryAdd(p.Name, p.Value))
                throw new ConfigException($"grpo.{p.Name}", $"config 'grpo.{p.Name}': Duplicate key (a 0.2 key, read as grpo.{ToolOf[p.Name]})");
        }
        foreach (var (key, _) in flat)
            ConfigException.Require(!nested.Contains(ToolOf[key]), $"grpo.{key}", Raw(flat[key]),
                $"only in a config without grpo.{ToolOf[key]} (a 0.2 key, read as grpo.{ToolOf[key]}; write it there)");

        // Each tool was off unless its switch said otherwise; its other keys then meant nothing and are dropped.
        if (flat.TryGetValue(DynamicSampling, out var dynamic) && dynamic.ValueKind == JsonValueKind.True)
        {
            writer.WriteStartObject("dynamicSampling");
            Copy(writer, flat, DynamicSamplingMaxBatches, "maxBatches");
            writer.WriteEndObject();
        }
        // 0.2 had the bonus on with a coefficient other than 0 or with a target; an absent coefficient was 0.
        bool hasCoef = flat.TryGetValue(EntropyCoef, out var coef) && !(coef.ValueKind == JsonValueKind.Number && coef.GetDouble() == 0);
        bool hasTarget = flat.TryGetValue(EntropyTarget, out var target) && target.ValueKind != JsonValueKind.Null;
        if (hasCoef || hasTarget)
        {
            writer.WriteStartObject("entropy");
            if (flat.ContainsKey(EntropyCoef)) Copy(writer, flat, EntropyCoef, "coef");
            else writer.WriteNumber("coef", 0);
            if (hasTarget)
            {
                writer.WriteStartObject("controller");
                Copy(writer, flat, EntropyTarget, "target");
                Copy(writer, flat, EntropyCoefStep, "step");
                Copy(writer, flat, EntropyCoefMax, "max");
                writer.WriteEndObject();
            }
            writer.WriteEndObject();
        }
        if (flat.TryGetValue(OverlapRollouts, out var overlap))
        {
            ConfigException.Require(overlap.ValueKind is JsonValueKind.True or JsonValueKind.False, $"grpo.{OverlapRollouts}", Raw(overlap),
                "true or false (a 0.2 key, read as grpo.overlap)");
            if (overlap.ValueKind == JsonValueKind.True)
            {
                writer.WriteStartObject("overlap");
                Copy(writer, flat, IsTruncation, "isTruncation");
                writer.WriteEndObject();
            }
        }
        writer.WriteEndObject();
    }

    /// <summary>Writes the flat key's value, as written, under its nested name; an absent key keeps the nested default.</summary>
    static void Copy(Utf8JsonWriter writer, Dictionary<string, JsonElement> flat, string from, string to)
    {
        if (!flat.TryGetValue(from, out var value)) return;
        writer.WritePropertyName(to);
        value.WriteTo(writer);
    }

    /// <summary>The value as written, for a message.</summary>
    static RawJson Raw(JsonElement value) => new(value.GetRawText());

    sealed record RawJson(string Text)
    {
        public override string ToString() => Text;
    }
}
