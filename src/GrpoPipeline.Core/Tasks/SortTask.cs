namespace GrpoPipeline.Core;

/// <summary>
/// The lecture's demo task (CS336 lecture 17): the response is the prompt's tokens sorted. Its rewards are
/// <see cref="SortingRewards"/>: the lecture's inclusion + ordering count, the share of positions already right, and
/// exact match.
/// </summary>
public sealed class SortTask(TaskOptions options) : TokenListTask(options)
{
    /// <summary>The name sorting is registered under.</summary>
    public const string TaskName = "sort";

    static readonly RewardComponent[] Rewards =
    [
        new("inclusionOrdering", 1, "the lecture's reward: +1 per prompt token the response includes, +1 per ordered adjacent pair (at most 2L − 1)"),
        new("sortDistance", 0, "share of positions equal to the sorted prompt, of max(|response|, |prompt|) (0..1)"),
        new(RewardComponent.ExactName, 0, "1 when the response is the sorted prompt, length included"),
    ];

    /// <inheritdoc/>
    public override string Name => TaskName;

    /// <inheritdoc/>
    public override IReadOnlyList<RewardComponent> Components => Rewards;

    /// <inheritdoc/>
    public override void Score(ReadOnlySpan<long> prompt, ReadOnlySpan<long> response, Span<double> values)
    {
        Span<long> sorted = prompt.Length <= 256 ? stackalloc long[prompt.Length] : new long[prompt.Length];
        prompt.CopyTo(sorted);
        sorted.Sort();
        values[0] = SortingRewards.InclusionOrdering(prompt, response);
        values[1] = SortingRewards.SortDistanceSorted(sorted, response);
        values[2] = response.Length == prompt.Length && sorted.SequenceEqual(response) ? 1 : 0;
    }

    /// <inheritdoc/>
    public override bool IsExact(ReadOnlySpan<long> prompt, ReadOnlySpan<long> response) => SortingRewards.Exact(prompt, response) == 1;

    /// <inheritdoc/>
    public override double MaxReward(IReadOnlyList<double> weights, int promptLength) =>
        weights[0] * SortingRewards.MaxInclusionOrdering(promptLength) + weights[1] + weights[2];
}
