using System.Globalization;
using System.Reflection;
using System.Runtime.CompilerServices;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.Json.Serialization;
using GrpoPipeline.Core;
using NUnit.Framework;

namespace GrpoPipeline.Training.Tests;

/// <summary>
/// The configuration table of docs/configuration.md states every default; this test reads it and holds each stated default
/// to the config records' own (a default <see cref="TrainConfig"/> as the trainer writes it), so the two cannot drift apart.
/// </summary>
[TestFixture]
public sealed class ConfigurationDocTests
{
    /// <summary>The page that holds the table, relative to the repository root.</summary>
    const string Doc = "docs/configuration.md";

    /// <summary>Rows whose default is not a single value of the default config, with the reason.</summary>
    static readonly Dictionary<string, string> NotAValue = new(StringComparer.Ordinal)
    {
        ["rewards.<component>"] = "the default weights are the task's (VerifiableTask.Components), held by the task tests",
    };

    [Test]
    public void Every_Default_In_The_Configuration_Table_Is_The_Config_Records_Default()
    {
        var rows = ConfigTable();
        Assert.That(rows, Has.Count.GreaterThan(30), $"premise: {Doc}'s configuration table was found");
        var defaults = JsonNode.Parse(new TrainConfig().ToJson())!;
        var records = Records();
        Assert.That(records.Keys, Is.SupersetOf(new[] { "task.curriculum", "grpo.dynamicSampling", "grpo.entropy.controller", "grpo.overlap" }),
            "premise: the records a default config leaves null are found");
        // A key written only when not the default.
        var direct = new Dictionary<string, JsonNode?>(StringComparer.Ordinal)
        {
            ["policy.positions"] = JsonValue.Create(JsonNamingPolicy.SnakeCaseLower.ConvertName(new PolicyOptions().Positions.ToString())),
        };

        var problems = new List<string>();
        int compared = 0;
        foreach (var (keys, values) in rows)
        {
            if (NotAValue.ContainsKey(keys[0])) continue;
            if (keys.Count != values.Count)
            {
                problems.Add($"{string.Join(", ", keys)}: {keys.Count} keys but {values.Count} defaults ({string.Join(" | ", values)})");
                continue;
            }
            for (int i = 0; i < keys.Count; i++)
            {
                if (values[i] == Required)
                {
                    if (!IsRequired(records, keys[i])) problems.Add($"{keys[i]}: {Doc} says it is required, the record gives it a default");
                    else compared++;
                    continue;
                }
                var actual = Find(defaults, records, direct, keys[i], out bool found);
                if (!found) problems.Add($"{keys[i]}: no such key in the default config");
                else if (IsRequired(records, keys[i])) problems.Add($"{keys[i]}: the record requires it, {Doc} says {values[i]}");
                else if (!SameValue(values[i], actual)) problems.Add($"{keys[i]}: {Doc} says {values[i]}, the config's default is {actual?.ToJsonString() ?? "null"}");
                else compared++;
            }
        }
        // Every key of every record has a row: a tool's own keys are documented with it, not only the switch.
        var documented = rows.SelectMany(r => r.Keys).ToHashSet(StringComparer.Ordinal);
        foreach (var (prefix, (type, node)) in records)
            foreach (var name in Keys(type))
            {
                var key = prefix.Length == 0 ? name : $"{prefix}.{name}";
                if (node[name] is not JsonObject && !documented.Contains(key)) problems.Add($"{key}: no row in the table");
            }
        TestContext.Out.WriteLine($"{compared} defaults compared");
        Assert.That(problems, Is.Empty, $"{Doc}'s configuration table and the config records disagree");
    }

    /// <summary>The default a row states for a key that has none: the record's property is <c>required</c>.</summary>
    const string Required = "required";

    /// <summary>
    /// Every options record of a config by key path ("" for <see cref="TrainConfig"/>, "grpo.entropy.controller"), with
    /// the JSON of a new one: also those a default config leaves null (a tool that is off, <c>task.add</c>), whose own
    /// keys the table documents too. Found by reflection, so a new record cannot be left out.
    /// </summary>
    static Dictionary<string, (Type Type, JsonNode Defaults)> Records()
    {
        var records = new Dictionary<string, (Type, JsonNode)>(StringComparer.Ordinal);
        void Walk(Type type, string key)
        {
            // Activator sets no property: a required one keeps its type's default, and the table must say "required".
            records[key] = (type, JsonSerializer.SerializeToNode(Activator.CreateInstance(type), type, ConfigJson.Options)!);
            foreach (var p in type.GetProperties(BindingFlags.Public | BindingFlags.Instance))
            {
                var t = Nullable.GetUnderlyingType(p.PropertyType) ?? p.PropertyType;
                if (p.IsDefined(typeof(JsonIgnoreAttribute)) || !p.CanWrite || !t.IsClass || t.Namespace?.StartsWith("GrpoPipeline", StringComparison.Ordinal) != true
                    || typeof(System.Collections.IEnumerable).IsAssignableFrom(t)) continue;
                Walk(t, (key.Length == 0 ? "" : key + ".") + JsonNamingPolicy.CamelCase.ConvertName(p.Name));
            }
        }
        Walk(typeof(TrainConfig), "");
        return records;
    }

    /// <summary>The JSON keys a config sets on a record: its settable properties (derived values are read-only).</summary>
    static IEnumerable<string> Keys(Type type) => type.GetProperties(BindingFlags.Public | BindingFlags.Instance)
        .Where(p => p.CanWrite && !p.IsDefined(typeof(JsonIgnoreAttribute))).Select(p => JsonNamingPolicy.CamelCase.ConvertName(p.Name));

    static bool IsRequired(Dictionary<string, (Type Type, JsonNode Defaults)> records, string key)
    {
        int dot = key.LastIndexOf('.');
        if (!records.TryGetValue(dot < 0 ? "" : key[..dot], out var record)) return false;
        var property = record.Type.GetProperties().FirstOrDefault(p => JsonNamingPolicy.CamelCase.ConvertName(p.Name) == key[(dot + 1)..]);
        return property?.IsDefined(typeof(RequiredMemberAttribute)) == true;
    }

    /// <summary>The rows of the table under "| Key | Default | Meaning |": key paths (".x" continues the first key's parent) and default texts.</summary>
    static List<(List<string> Keys, List<string> Values)> ConfigTable()
    {
        var lines = File.ReadAllLines(Path.Combine(TestConfigs.RepoRoot(), Doc));
        int start = Array.FindIndex(lines, l => l.StartsWith("| Key | Default | Meaning |", StringComparison.Ordinal));
        Assert.That(start, Is.GreaterThanOrEqualTo(0), $"premise: {Doc} has the configuration table");
        var rows = new List<(List<string>, List<string>)>();
        for (int i = start + 2; i < lines.Length && lines[i].StartsWith('|'); i++)
        {
            var cells = lines[i].Split(" | ");
            var keyCell = cells[0].TrimStart('|', ' ');
            var keys = new List<string>();
            string parent = "";
            foreach (var raw in SplitTopLevel(keyCell))
            {
                var key = raw.Trim('`');
                if (key.StartsWith('.')) key = parent + key;
                else parent = key.Contains('.') ? key[..key.LastIndexOf('.')] : "";
                keys.Add(key);
            }
            rows.Add((keys, SplitTopLevel(cells[1]).Select(v => v.Trim('`')).ToList()));
        }
        return rows;
    }

    /// <summary>Splits on ", " outside brackets: <c>[[1,0,2],[3,2,4]], 5</c> is two values.</summary>
    static List<string> SplitTopLevel(string text)
    {
        var parts = new List<string>();
        int depth = 0, from = 0;
        for (int i = 0; i < text.Length; i++)
        {
            if (text[i] == '[') depth++;
            else if (text[i] == ']') depth--;
            else if (depth == 0 && text[i] == ',' && i + 1 < text.Length && text[i + 1] == ' ')
            {
                parts.Add(text[from..i].Trim());
                from = i + 2;
            }
        }
        parts.Add(text[from..].Trim());
        return parts;
    }

    /// <summary>
    /// The key's value in the default config; below a record the default config leaves null, in a new record of its
    /// type (<c>task.curriculum.step</c> is a new <see cref="CurriculumOptions"/>'s <c>step</c>).
    /// </summary>
    static JsonNode? Find(JsonNode root, Dictionary<string, (Type Type, JsonNode Defaults)> records, Dictionary<string, JsonNode?> direct, string path, out bool found)
    {
        if (direct.TryGetValue(path, out var value)) { found = true; return value; }
        JsonNode? node = root;
        var prefix = "";
        foreach (var part in path.Split('.'))
        {
            if (node is null && records.TryGetValue(prefix, out var record)) node = record.Defaults;
            if (node is not JsonObject obj || !obj.TryGetPropertyValue(part, out var next)) { found = false; return null; }
            node = next;
            prefix = prefix.Length == 0 ? part : $"{prefix}.{part}";
        }
        found = true;
        return node;
    }

    /// <summary>A stated default against a JSON value: null, booleans, numbers (any spelling), strings (enum names), arrays.</summary>
    static bool SameValue(string stated, JsonNode? actual)
    {
        if (stated == "null") return actual is null;
        if (actual is null) return false;
        if (actual is JsonArray) return stated.Replace(" ", "") == actual.ToJsonString();
        var value = actual.AsValue();
        return value.GetValueKind() switch
        {
            JsonValueKind.True or JsonValueKind.False => stated == (value.GetValue<bool>() ? "true" : "false"),
            JsonValueKind.Number => double.TryParse(stated, NumberStyles.Float, CultureInfo.InvariantCulture, out var d) && d == value.GetValue<double>(),
            JsonValueKind.String => stated == value.GetValue<string>(),
            _ => false,
        };
    }
}
