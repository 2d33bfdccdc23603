using System.Text.Json;
using GrpoPipeline.Core;

namespace GrpoPipeline.Evaluation;

/// <summary>
/// Reads the split rule the exporter stores in <see cref="OnnxContract.Metadata.HeldOutSplit"/> and regenerates the
/// held-out prompts from it, without the trainer.
/// </summary>
public static class HeldOutSplit
{
    /// <summary>The exporter's format (<see cref="ConfigJson"/>): a split from a newer trainer is refused, not misread.</summary>
    public static JsonSerializerOptions Json => ConfigJson.Options;

    /// <summary>Parses and validates the split JSON; <paramref name="source"/> names the model in errors.</summary>
    /// <exception cref="EvaluationException">Not valid JSON of <see cref="TaskOptions"/>, or invalid options.</exception>
    public static TaskOptions Parse(string json, string source)
    {
        TaskOptions? options;
        try { options = JsonSerializer.Deserialize<TaskOptions>(json, Json); }
        catch (JsonException e)
        {
            var key = ConfigJson.KeyOf(e) is "$" ? "" : $" at '{ConfigJson.KeyOf(e)}'";
            throw new EvaluationException($"'{source}': metadata '{OnnxContract.Metadata.HeldOutSplit}' is not a valid split{key}: {ConfigJson.Describe(e)}", e);
        }
        if (options is null)
            throw new EvaluationException($"'{source}': metadata '{OnnxContract.Metadata.HeldOutSplit}' is null");
        try { options.Validate(); }
        catch (ConfigException e)
        {
            throw new EvaluationException($"'{source}': metadata '{OnnxContract.Metadata.HeldOutSplit}' is not a valid split: {e.Message}", e);
        }
        return options;
    }

    /// <summary>The split of a model, from its metadata.</summary>
    /// <exception cref="EvaluationException">The model has no split metadata, or it does not parse.</exception>
    public static TaskOptions FromMetadata(IReadOnlyDictionary<string, string> metadata, string source) =>
        metadata.TryGetValue(OnnxContract.Metadata.HeldOutSplit, out var json)
            ? Parse(json, source)
            : throw new EvaluationException($"'{source}' has no metadata '{OnnxContract.Metadata.HeldOutSplit}', so its held-out prompts cannot be regenerated; pass a CSV of prompts instead");

    /// <summary>
    /// <paramref name="count"/> held-out prompts of <paramref name="split"/> picked by <paramref name="seed"/>
    /// (fewer when the split holds fewer).
    /// </summary>
    /// <exception cref="EvaluationException">The split holds too few prompts to draw <paramref name="count"/> distinct ones.</exception>
    public static IReadOnlyList<long[]> Prompts(TaskOptions split, int count, ulong seed, string source)
    {
        // Above 2^20 prompts SortingTask draws held-out prompts by rejection, which slows to a crawl (and then returns
        // fewer) as the request nears the split's size; refuse early, with room for the coupon-collector tail.
        double space = Math.Pow(split.Vocab, split.Length);
        if (space > 1 << 20 && split.Kind == TaskKind.Random && count > split.HeldOutFraction * space / 2)
            throw new EvaluationException(
                $"'{source}': its split holds out about {split.HeldOutFraction * space:N0} prompts; ask for at most half of them, not {count}");
        return new SortingTask(split).HeldOutPrompts(count, seed);
    }
}
