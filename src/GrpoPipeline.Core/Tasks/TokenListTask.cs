namespace GrpoPipeline.Core;

/// <summary>
/// A task whose prompts are lists of tokens 0..V−1 — fixed, of one random length, or of lengths min..max — with the
/// held-out split over their content: it samples training prompts and produces held-out prompts, which never overlap.
/// Sorting and reversal are such tasks; they add only their rewards.
/// </summary>
/// <remarks>
/// Split rule. Fixed task: every prompt of the same L and V that is not a training prompt is held out.
/// Random task: a prompt is held out when <c>Hash(prompt, salt) &lt; fraction · 2^64</c>, where
/// <c>h = salt; for each token t: h = SplitMix64Mix((h ^ (ulong)t) + 0x9E3779B97F4A7C15)</c>.
/// Variable task: the same, starting from <c>h = SplitMix64Mix(salt ^ n)</c> for a prompt of n tokens, so the length
/// takes part (<c>[3]</c> and <c>[3, 0]</c> are unrelated draws). Training rejects held-out prompts, so the two sets
/// are disjoint by construction, and anyone with the options can regenerate them.
/// </remarks>
public abstract class TokenListTask : VerifiableTask
{
    const long EnumerationLimit = 1 << 20;
    const long SparseEnumerationLimit = 1 << 26;
    const int MaxRejections = 1_000_000;
    readonly HashSet<string> _fixed;
    readonly ulong _heldOutThreshold;

    /// <summary>The task of <paramref name="options"/>, validated.</summary>
    /// <exception cref="ConfigException">A length of a variable task has no training prompt (all are held out).</exception>
    protected TokenListTask(TaskOptions options) : base(options)
    {
        Length = options.Length;
        _fixed = options.Kind == TaskKind.Fixed ? options.Prompts.Select(p => Key(p)).ToHashSet() : [];
        _heldOutThreshold = options.HeldOutFraction >= 1 ? ulong.MaxValue : (ulong)(options.HeldOutFraction * 18446744073709551616.0);
        if (options.IsVariableLength) RequireTrainingPromptsAtEveryLength();
    }

    /// <summary>Prompt length L of a fixed-length task; the longest prompt of a variable one.</summary>
    public int Length { get; }

    /// <inheritdoc/>
    public override bool IsHeldOut(ReadOnlySpan<long> prompt) => Options.Kind switch
    {
        TaskKind.Fixed => !_fixed.Contains(Key(prompt)),
        TaskKind.Random => Hash(prompt, Options.SplitSalt) < _heldOutThreshold,
        _ => Hash(prompt, Rng.Mix(Options.SplitSalt ^ (ulong)prompt.Length)) < _heldOutThreshold,
    };

    /// <summary>
    /// Fills <paramref name="batch"/> with training prompts: a whole batch from <see cref="VerifiableTask.NewBatch"/>, or any number of
    /// rows (dynamic sampling's refills).
    /// </summary>
    public override void SampleTrainingBatch(TokenRows batch, Rng rng)
    {
        if (batch.Stride < Options.MaxPromptLength)
            throw new ArgumentException($"expected rows of room {Options.MaxPromptLength} or more, got {batch.Count}×{batch.Stride}", nameof(batch));
        for (int b = 0; b < batch.Count; b++)
        {
            if (Options.Kind == TaskKind.Fixed)
            {
                batch.Set(b, Options.Prompts[b % Options.Prompts.Length]);   // a refill of a fixed task takes its prompts in order
                continue;
            }
            // A random task's length is L; a variable task draws it first, then redraws only the tokens on a rejection.
            int length = Options.IsVariableLength ? Options.MinLength + rng.NextInt(Options.MaxLength - Options.MinLength + 1) : Length;
            var row = batch.Room(b)[..length];
            int rejections = 0;
            do
            {
                for (int i = 0; i < length; i++) row[i] = rng.NextInt(Vocab);
                if (++rejections > MaxRejections)
                    throw new InvalidOperationException($"no training prompt of length {length} found in {MaxRejections} draws; the held-out split covers almost all of them");
            } while (IsHeldOut(row));
            batch.Room(b)[length..].Fill(batch.Padding);
            batch.Lengths[b] = length;
        }
    }

    /// <summary>
    /// The held-out prompts used for evaluation: <paramref name="count"/> distinct prompts (fewer if fewer exist),
    /// picked deterministically by <paramref name="seed"/>. A variable task's prompts are spread evenly over its
    /// lengths (lengths with fewer held-out prompts than their share give all they have).
    /// </summary>
    public override IReadOnlyList<long[]> HeldOutPrompts(int count, ulong seed)
    {
        var rng = new Rng(seed);
        if (!Options.IsVariableLength) return HeldOutPromptsOfLength(Length, count, rng);
        int lengths = Options.MaxLength - Options.MinLength + 1;
        var result = new List<long[]>(count);
        for (int k = 0; k < lengths; k++)
            result.AddRange(HeldOutPromptsOfLength(Options.MinLength + k, count / lengths + (k < count % lengths ? 1 : 0), rng));
        return result;
    }

    List<long[]> HeldOutPromptsOfLength(int length, int count, Rng rng)
    {
        if (count <= 0) return [];
        double space = Math.Pow(Vocab, length);
        // Enumerate small spaces, and mid-sized ones whose split is too sparse for random draws to find it all.
        bool sparse = Options.Kind != TaskKind.Fixed && Options.HeldOutFraction * space <= 4.0 * count;
        if (space <= EnumerationLimit || (sparse && space <= SparseEnumerationLimit))
        {
            var all = new List<long[]>();
            var p = new long[length];
            for (long code = 0; code < (long)space; code++)
            {
                Decode(code, p);
                if (IsHeldOut(p)) all.Add((long[])p.Clone());
            }
            return SeededChoice(all, count, rng);
        }

        if (Options.Kind != TaskKind.Fixed && Options.HeldOutFraction <= 0) return [];
        // Too many prompts to enumerate: draw at random. If the split holds fewer prompts than asked for, a long run
        // of draws that find nothing new ends the search with what was found.
        const int MaxMisses = 1_000_000;
        var seen = new HashSet<string>();
        var result = new List<long[]>(count);
        for (int misses = 0; result.Count < count && misses < MaxMisses;)
        {
            var p = new long[length];
            for (int i = 0; i < length; i++) p[i] = rng.NextInt(Vocab);
            if (IsHeldOut(p) && seen.Add(Key(p))) { result.Add(p); misses = 0; }
            else misses++;
        }
        return result;
    }

    /// <summary>Short lengths have few prompts (V of length 1): the split must leave training at least one of each.</summary>
    void RequireTrainingPromptsAtEveryLength()
    {
        for (int length = Options.MinLength; length <= Options.MaxLength && Math.Pow(Vocab, length) <= EnumerationLimit; length++)
        {
            var p = new long[length];
            bool any = false;
            for (long code = 0; code < (long)Math.Pow(Vocab, length) && !any; code++)
            {
                Decode(code, p);
                any = !IsHeldOut(p);
            }
            if (!any)
                throw new ConfigException("task.heldOutFraction",
                    $"config 'task.heldOutFraction' = {Options.HeldOutFraction} holds out every prompt of length {length} (V={Vocab}), so training never sees that length: lower it, change task.splitSalt, or raise task.minLength");
        }
    }

    /// <summary>Writes the <paramref name="code"/>-th prompt of its length (base-V digits, most significant first).</summary>
    void Decode(long code, Span<long> prompt)
    {
        for (int i = prompt.Length - 1; i >= 0; i--) { prompt[i] = code % Vocab; code /= Vocab; }
    }

    /// <summary>The split hash (see remarks on <see cref="TokenListTask"/>).</summary>
    public static ulong Hash(ReadOnlySpan<long> prompt, ulong salt)
    {
        ulong h = salt;
        foreach (var t in prompt) h = Rng.Mix((h ^ (ulong)t) + 0x9E3779B97F4A7C15UL);
        return h;
    }

    static string Key(ReadOnlySpan<long> prompt) => string.Join(',', prompt.ToArray());
}
