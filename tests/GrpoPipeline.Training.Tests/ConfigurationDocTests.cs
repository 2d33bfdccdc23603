using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
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
        // Sub-records that the default config leaves null, and a key written only when not the default.
        var extra = new Dictionary<string, JsonNode?>(StringComparer.Ordinal)
        {
            ["task.add"] = JsonSerializer.SerializeToNode(new AddOptions(), ConfigJson.Options),
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
                var actual = Find(defaults, extra, keys[i], out bool found);
                if (!found) problems.Add($"{keys[i]}: no such key in the default config");
                else if (!SameValue(values[i], actual)) problems.Add($"{keys[i]}: {Doc} says {values[i]}, the config's default is {actual?.ToJsonString() ?? "null"}");
                else compared++;
            }
        }
        TestContext.Out.WriteLine($"{compared} defaults compared");
        Assert.That(problems, Is.Empty, $"{Doc}'s configuration table and the config records disagree");
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

    static JsonNode? Find(JsonNode root, Dictionary<string, JsonNode?> extra, string path, out bool found)
    {
        if (extra.TryGetValue(path, out var direct)) { found = true; return direct; }
        var prefix = extra.Keys.FirstOrDefault(k => path.StartsWith(k + ".", StringComparison.Ordinal));
        JsonNode? node = prefix is null ? root : extra[prefix];
        foreach (var part in (prefix is null ? path : path[(prefix.Length + 1)..]).Split('.'))
        {
            if (node is not JsonObject obj || !obj.TryGetPropertyValue(part, out var next)) { found = false; return null; }
            node = next;
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
