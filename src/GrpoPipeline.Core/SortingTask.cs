namespace GrpoPipeline.Core;

/// <summary>
/// The sorting task built from <see cref="TaskOptions"/>: samples training prompts and produces the held-out prompts,
/// which never overlap by content.
/// </summary>
/// <remarks>
/// Split rule. Fixed task: every prompt of the same L and V that is not a training prompt is held out.
/// Random task: a prompt is held out when <c>Hash(prompt, salt) &lt; fraction · 2^64</c>, where
/// <c>h = salt; for each token t: h = SplitMix64Mix((h ^ (ulong)t) + 0x9E3779B97F4A7C15)</c>. Training rejects
/// held-out prompts, so the two sets are disjoint by construction, and anyone with the options can regenerate them.
/// </remarks>
public sealed class SortingTask
{
    const long EnumerationLimit = 1 << 20;
    const long SparseEnumerationLimit = 1 << 26;
    readonly HashSet<string> _fixed;
    readonly ulong _heldOutThreshold;

    /// <summary>The task of <paramref name="options"/>, validated.</summary>
    public SortingTask(TaskOptions options)
    {
        options.Validate();
        Options = options;
        Length = options.Length;
        Vocab = options.Vocab;
        _fixed = options.Kind == TaskKind.Fixed ? options.Prompts.Select(p => Key(p)).ToHashSet() : [];
        _heldOutThreshold = options.HeldOutFraction >= 1 ? ulong.MaxValue : (ulong)(options.HeldOutFraction * 18446744073709551616.0);
    }

    /// <summary>The options the task was built from.</summary>
    public TaskOptions Options { get; }
    /// <summary>Prompt and response length L.</summary>
    public int Length { get; }
    /// <summary>Vocab size V.</summary>
    public int Vocab { get; }
    /// <summary>Prompts per training batch.</summary>
    public int BatchSize => Options.PromptsPerBatch;

    /// <summary>True when the prompt belongs to the held-out split and training never sees it.</summary>
    public bool IsHeldOut(ReadOnlySpan<long> prompt) => Options.Kind == TaskKind.Fixed
        ? !_fixed.Contains(Key(prompt))
        : Hash(prompt, Options.SplitSalt) < _heldOutThreshold;

    /// <summary>Writes one training batch, row-major [<see cref="BatchSize"/>, L], into <paramref name="prompts"/>.</summary>
    public void SampleTrainingBatch(Span<long> prompts, Rng rng)
    {
        if (prompts.Length != BatchSize * Length)
            throw new ArgumentException($"expected a buffer of {BatchSize}×{Length} tokens, got {prompts.Length}", nameof(prompts));
        if (Options.Kind == TaskKind.Fixed)
        {
            for (int b = 0; b < BatchSize; b++) Options.Prompts[b].CopyTo(prompts.Slice(b * Length, Length));
            return;
        }
        for (int b = 0; b < BatchSize; b++)
        {
            var row = prompts.Slice(b * Length, Length);
            do
            {
                for (int i = 0; i < Length; i++) row[i] = rng.NextInt(Vocab);
            } while (IsHeldOut(row));
        }
    }

    /// <summary>
    /// The held-out prompts used for evaluation: <paramref name="count"/> distinct prompts (fewer if fewer exist),
    /// picked deterministically by <paramref name="seed"/>.
    /// </summary>
    public IReadOnlyList<long[]> HeldOutPrompts(int count, ulong seed)
    {
        var rng = new Rng(seed);
        double space = Math.Pow(Vocab, Length);
        // Enumerate small spaces, and mid-sized ones whose split is too sparse for random draws to find it all.
        bool sparse = Options.Kind == TaskKind.Random && Options.HeldOutFraction * space <= 4.0 * count;
        if (space <= EnumerationLimit || (sparse && space <= SparseEnumerationLimit))
        {
            var all = new List<long[]>();
            var p = new long[Length];
            for (long code = 0; code < (long)space; code++)
            {
                long c = code;
                for (int i = Length - 1; i >= 0; i--) { p[i] = c % Vocab; c /= Vocab; }
                if (IsHeldOut(p)) all.Add((long[])p.Clone());
            }
            // Partial Fisher–Yates: a seeded choice of `count` prompts.
            int n = Math.Min(count, all.Count);
            for (int i = 0; i < n; i++)
            {
                int j = i + rng.NextInt(all.Count - i);
                (all[i], all[j]) = (all[j], all[i]);
            }
            return all.GetRange(0, n);
        }

        if (Options.Kind == TaskKind.Random && Options.HeldOutFraction <= 0) return [];
        // Too many prompts to enumerate: draw at random. If the split holds fewer prompts than asked for, a long run
        // of draws that find nothing new ends the search with what was found.
        const int MaxMisses = 1_000_000;
        var seen = new HashSet<string>();
        var result = new List<long[]>(count);
        for (int misses = 0; result.Count < count && misses < MaxMisses;)
        {
            var p = new long[Length];
            for (int i = 0; i < Length; i++) p[i] = rng.NextInt(Vocab);
            if (IsHeldOut(p) && seen.Add(Key(p))) { result.Add(p); misses = 0; }
            else misses++;
        }
        return result;
    }

    /// <summary>The evaluation set named by the options (<see cref="TaskOptions.HeldOutSize"/>, <see cref="TaskOptions.HeldOutSeed"/>).</summary>
    public IReadOnlyList<long[]> HeldOutPrompts() => HeldOutPrompts(Options.HeldOutSize, Options.HeldOutSeed);

    /// <summary>The split hash (see remarks on <see cref="SortingTask"/>).</summary>
    public static ulong Hash(ReadOnlySpan<long> prompt, ulong salt)
    {
        ulong h = salt;
        foreach (var t in prompt) h = Rng.Mix((h ^ (ulong)t) + 0x9E3779B97F4A7C15UL);
        return h;
    }

    static string Key(ReadOnlySpan<long> prompt) => string.Join(',', prompt.ToArray());
}
