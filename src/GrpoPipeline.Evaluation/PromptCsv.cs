using System.Globalization;
using System.Text;

namespace GrpoPipeline.Evaluation;

/// <summary>One prompt of a CSV file, with the line it came from.</summary>
public sealed record CsvPrompt(int Line, long[] Tokens);

/// <summary>
/// Reads prompts from a CSV file: a header line naming a <c>prompt</c> column (other columns are ignored), then one
/// prompt per line as space-separated integer tokens, e.g. <c>"3 1 2"</c>. Fields may be double-quoted (RFC 4180).
/// Blank lines are skipped.
/// </summary>
public static class PromptCsv
{
    /// <summary>Name of the column that holds the prompts.</summary>
    public const string PromptColumn = "prompt";

    /// <exception cref="EvaluationException">No such file, no <c>prompt</c> column, or a bad line; the message says
    /// <c>file:line: reason</c>.</exception>
    public static IReadOnlyList<CsvPrompt> Read(string path)
    {
        if (!File.Exists(path)) throw new EvaluationException($"no CSV file at '{path}'");
        var prompts = new List<CsvPrompt>();
        int column = -1, columns = 0, lineNumber = 0;
        foreach (var line in File.ReadLines(path))
        {
            lineNumber++;
            if (string.IsNullOrWhiteSpace(line)) continue;
            var fields = Fields(line, path, lineNumber);
            if (column < 0)
            {
                column = fields.FindIndex(f => f.Trim().TrimStart('\uFEFF').Equals(PromptColumn, StringComparison.OrdinalIgnoreCase));
                if (column < 0)
                    Fail(path, lineNumber, $"the header has no '{PromptColumn}' column (found {string.Join(", ", fields.Select(f => $"'{f}'"))})");
                columns = fields.Count;
                continue;
            }
            if (fields.Count != columns)
                Fail(path, lineNumber, $"expected {columns} field(s) like the header, found {fields.Count}");
            prompts.Add(new CsvPrompt(lineNumber, Tokens(fields[column], path, lineNumber)));
        }
        if (column < 0) throw new EvaluationException($"{path}: the file is empty; expected a header with a '{PromptColumn}' column");
        if (prompts.Count == 0) throw new EvaluationException($"{path}: no prompts after the header");
        return prompts;
    }

    static long[] Tokens(string field, string path, int line)
    {
        var parts = field.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries);
        if (parts.Length == 0) Fail(path, line, "the prompt is empty");
        var tokens = new long[parts.Length];
        for (int i = 0; i < parts.Length; i++)
            if (!long.TryParse(parts[i], NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out tokens[i]))
                Fail(path, line, $"token {i + 1} of the prompt, '{parts[i]}', is not an integer");
        return tokens;
    }

    /// <summary>Splits one line into fields; a quoted field may hold commas and doubled quotes.</summary>
    static List<string> Fields(string line, string path, int lineNumber)
    {
        var fields = new List<string>();
        var field = new StringBuilder();
        int i = 0;
        while (true)
        {
            field.Clear();
            if (i < line.Length && line[i] == '"')
            {
                i++;
                while (true)
                {
                    if (i >= line.Length) Fail(path, lineNumber, "a quoted field is not closed");
                    if (line[i] == '"')
                    {
                        if (i + 1 < line.Length && line[i + 1] == '"') { field.Append('"'); i += 2; continue; }
                        i++;
                        break;
                    }
                    field.Append(line[i++]);
                }
                if (i < line.Length && line[i] != ',') Fail(path, lineNumber, $"unexpected '{line[i]}' after a quoted field");
            }
            else
            {
                int end = line.IndexOf(',', i);
                if (end < 0) end = line.Length;
                var text = line[i..end];
                if (text.Contains('"')) Fail(path, lineNumber, "a quote inside an unquoted field");
                field.Append(text);
                i = end;
            }
            fields.Add(field.ToString());
            if (i >= line.Length) return fields;
            i++;   // the comma
        }
    }

    [System.Diagnostics.CodeAnalysis.DoesNotReturn]
    static void Fail(string path, int line, string reason) => throw new EvaluationException($"{path}:{line}: {reason}");
}
