namespace GrpoPipeline.Core;

/// <summary>The verifiable rewards of the sorting task (CS336 lecture 17), on one prompt and one response.</summary>
public static class SortingRewards
{
    /// <summary>
    /// The lecture's reward: +1 for each prompt token that appears anywhere in the response (duplicates in the prompt
    /// count once each), plus +1 for each adjacent response pair with r[i] ≤ r[i+1].
    /// </summary>
    public static int InclusionOrdering(ReadOnlySpan<long> prompt, ReadOnlySpan<long> response)
    {
        int reward = 0;
        foreach (var x in prompt)
            if (response.Contains(x)) reward++;
        for (int i = 0; i + 1 < response.Length; i++)
            if (response[i] <= response[i + 1]) reward++;
        return reward;
    }

    /// <summary>Largest possible <see cref="InclusionOrdering"/> for length L: L inclusions + (L−1) ordered pairs.</summary>
    public static int MaxInclusionOrdering(int length) => 2 * length - 1;

    /// <summary>Number of positions where the response equals the sorted prompt.</summary>
    public static int SortDistance(ReadOnlySpan<long> prompt, ReadOnlySpan<long> response)
    {
        Span<long> sorted = prompt.Length <= 256 ? stackalloc long[prompt.Length] : new long[prompt.Length];
        prompt.CopyTo(sorted);
        sorted.Sort();
        return MatchingPositions(sorted, response);
    }

    /// <summary>1 when the response is exactly the sorted prompt, else 0.</summary>
    public static int Exact(ReadOnlySpan<long> prompt, ReadOnlySpan<long> response) =>
        SortDistance(prompt, response) == prompt.Length && response.Length == prompt.Length ? 1 : 0;

    /// <summary>Positions where <paramref name="response"/> equals the already sorted prompt.</summary>
    public static int MatchingPositions(ReadOnlySpan<long> sortedPrompt, ReadOnlySpan<long> response)
    {
        int n = Math.Min(sortedPrompt.Length, response.Length), same = 0;
        for (int i = 0; i < n; i++)
            if (sortedPrompt[i] == response[i]) same++;
        return same;
    }
}

/// <summary>Weights of the reward components; the training reward is their weighted sum.</summary>
public sealed record RewardOptions
{
    /// <summary>Weight of the lecture's inclusion + ordering reward. Default 1.</summary>
    public double InclusionOrdering { get; init; } = 1;
    /// <summary>Weight of the sort-distance reward (positions equal to the sorted prompt). Default 0.</summary>
    public double SortDistance { get; init; }
    /// <summary>Weight of the exact-match reward. Default 0.</summary>
    public double Exact { get; init; }

    /// <summary>The largest weighted reward a response to a prompt of length L can earn.</summary>
    public double MaxReward(int length) =>
        InclusionOrdering * SortingRewards.MaxInclusionOrdering(length) + SortDistance * length + Exact;

    /// <summary>Throws <see cref="ConfigException"/> naming the first bad weight.</summary>
    public void Validate()
    {
        foreach (var (key, w) in new[] { ("inclusionOrdering", InclusionOrdering), ("sortDistance", SortDistance), ("exact", Exact) })
            ConfigException.Require(double.IsFinite(w) && w >= 0 && w <= 1000, $"rewards.{key}", w, "a finite weight in 0..1000");
        ConfigException.Require(InclusionOrdering + SortDistance + Exact > 0, "rewards", "all zero", "at least one weight > 0");
    }
}

/// <summary>Means of each reward component over a batch.</summary>
public readonly record struct RewardComponents(double InclusionOrdering, double SortDistance, double Exact);

/// <summary>Scores a whole rollout in one pass over contiguous managed buffers.</summary>
public sealed class RewardFunction(RewardOptions options)
{
    /// <summary>The weights of the components.</summary>
    public RewardOptions Options { get; } = options;

    /// <summary>
    /// Scores <c>B·G</c> responses. <paramref name="prompts"/> is [B, L] row-major, <paramref name="responses"/> is
    /// [B, G, L], <paramref name="rewards"/> receives [B, G]. Returns the mean of each component.
    /// </summary>
    public RewardComponents Score(ReadOnlySpan<long> prompts, ReadOnlySpan<long> responses, int length, int groupSize, Span<float> rewards)
    {
        int batch = prompts.Length / length;
        if (prompts.Length != batch * length || responses.Length != batch * groupSize * length || rewards.Length != batch * groupSize)
            throw new ArgumentException($"shapes disagree: prompts {prompts.Length}, responses {responses.Length}, rewards {rewards.Length} for L={length}, G={groupSize}");
        Span<long> sorted = length <= 256 ? stackalloc long[length] : new long[length];
        double io = 0, sd = 0, ex = 0;
        for (int b = 0; b < batch; b++)
        {
            var prompt = prompts.Slice(b * length, length);
            prompt.CopyTo(sorted);
            sorted.Sort();
            for (int g = 0; g < groupSize; g++)
            {
                var response = responses.Slice((b * groupSize + g) * length, length);
                int inclusion = SortingRewards.InclusionOrdering(prompt, response);
                int matching = SortingRewards.MatchingPositions(sorted, response);
                int exact = matching == length ? 1 : 0;
                rewards[b * groupSize + g] = (float)(Options.InclusionOrdering * inclusion + Options.SortDistance * matching + Options.Exact * exact);
                io += inclusion; sd += matching; ex += exact;
            }
        }
        double n = Math.Max(1, batch * groupSize);
        return new RewardComponents(io / n, sd / n, ex / n);
    }
}
