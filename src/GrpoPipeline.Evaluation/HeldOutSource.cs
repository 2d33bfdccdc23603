namespace GrpoPipeline.Evaluation;

/// <summary>Where the prompts of an evaluation come from.</summary>
public abstract record HeldOutSource
{
    HeldOutSource() { }

    /// <summary>
    /// <paramref name="count"/> held-out prompts regenerated from the split rule in each model's ONNX metadata
    /// (<c>grpo.heldout_split</c>): seeded, and disjoint from every prompt the trainer sampled. A null
    /// <paramref name="seed"/> uses the split's own <c>heldOutSeed</c>, i.e. the prompts training evaluated on.
    /// </summary>
    public static HeldOutSource FromSplit(int count, ulong? seed = null)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(count, 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(count, MaxSplitCount);
        return new Split(count, seed);
    }

    /// <summary>Prompts read from a CSV file with a <c>prompt</c> column of space-separated tokens.</summary>
    public static HeldOutSource FromCsv(string path)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(path);
        return new Csv(path);
    }

    /// <summary>Largest <see cref="FromSplit"/> count (the task's own limit on <c>heldOutSize</c>).</summary>
    public const int MaxSplitCount = 1_000_000;

    /// <summary>Prompts regenerated from each model's split rule.</summary>
    public sealed record Split(int Count, ulong? Seed) : HeldOutSource
    {
        /// <summary>How the report names the source.</summary>
        public override string ToString() => $"held-out split, {Count} prompts, seed {(Seed is { } s ? s.ToString() : "from the model")}";
    }

    /// <summary>Prompts read from a CSV file.</summary>
    public sealed record Csv(string Path) : HeldOutSource
    {
        /// <summary>How the report names the source.</summary>
        public override string ToString() => $"CSV {Path}";
    }
}
