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
    public static TaskOptions Parse(string json, string source) =>
        FromMetadata(new Dictionary<string, string> { [OnnxContract.Metadata.TaskOptions] = json }, source);

    /// <summary>The split of a model: the task options in its metadata (<see cref="ModelTask.Options"/>).</summary>
    /// <exception cref="EvaluationException">The model has no task options, or they do not parse.</exception>
    public static TaskOptions FromMetadata(IReadOnlyDictionary<string, string> metadata, string source)
    {
        TaskOptions? options;
        try { options = ModelTask.Options(metadata, source); }
        catch (InvalidDataException e) { throw new EvaluationException(e.Message, e); }
        return options ?? throw new EvaluationException(
            $"'{source}' has no metadata '{OnnxContract.Metadata.TaskOptions}', so its held-out prompts cannot be regenerated; pass a CSV of prompts instead");
    }

    /// <summary>
    /// <paramref name="count"/> held-out prompts of <paramref name="split"/> picked by <paramref name="seed"/>
    /// (fewer when the split holds fewer). A variable split's prompts are spread evenly over its lengths, and a length
    /// that holds out fewer than its share gives all it has (<see cref="VerifiableTask.HeldOutPrompts(int, ulong)"/>).
    /// </summary>
    /// <exception cref="EvaluationException">The split holds too few prompts to draw <paramref name="count"/> distinct ones.</exception>
    public static IReadOnlyList<long[]> Prompts(TaskOptions split, int count, ulong seed, string source)
    {
        var (max, length) = Drawable(split);
        if (count > max)
            throw new EvaluationException(split.IsVariableLength
                ? $"'{source}': its split holds out about {HeldOutAt(split, length):N0} prompts of length {length}, and an even spread over " +
                  $"lengths {split.Rules.LengthRange} asks each length for its share; ask for at most half of them per length ({max:N0} in all), not {count}"
                : $"'{source}': its split holds out about {HeldOutAt(split, length):N0} prompts; ask for at most half of them ({max:N0}), not {count}");
        return TaskRegistry.Create(split).HeldOutPrompts(count, seed);
    }

    /// <summary>The most prompts <see cref="Prompts"/> draws from <paramref name="split"/>.</summary>
    public static int MaxDrawable(TaskOptions split) => Drawable(split).Count;

    /// <summary>
    /// Above 2^20 prompts of a length, a token-list task draws held-out prompts by rejection, which slows to a crawl (and then
    /// returns fewer) as the request nears the split's size; so each such length is asked for at most half its expected
    /// held-out prompts, with room for the coupon-collector tail. Smaller lengths are enumerated: no limit. An even
    /// spread asks every length for the same share, so the length with the fewest held-out prompts sets the limit.
    /// </summary>
    static (int Count, int Length) Drawable(TaskOptions split)
    {
        // Only token-list tasks draw by rejection from a space this large; the others enumerate or bound their own draws.
        if (split.Kind == TaskKind.Fixed || TaskRegistry.Create(split) is not TokenListTask) return (int.MaxValue, split.Length);
        int lengths = split.MaxPromptLength - split.MinPromptLength + 1;
        for (int length = split.MinPromptLength; length <= split.MaxPromptLength; length++)
            if (Math.Pow(split.Vocab, length) > 1 << 20)   // the first length above the limit holds out the fewest of them
                return ((int)Math.Min(int.MaxValue, Math.Floor(HeldOutAt(split, length) / 2) * lengths), length);
        return (int.MaxValue, split.Length);
    }

    /// <summary>The prompts of <paramref name="length"/> the split is expected to hold out.</summary>
    static double HeldOutAt(TaskOptions split, int length) => split.HeldOutFraction * Math.Pow(split.Vocab, length);
}
