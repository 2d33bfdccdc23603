using GrpoPipeline.Core;

namespace GrpoPipeline.Inference;

/// <summary>
/// A loaded sorter policy: what another app calls. <see cref="SorterPolicy"/> implements it for one ONNX file; the
/// policy that <see cref="Microsoft.Extensions.DependencyInjection.SorterPolicyServiceCollectionExtensions.AddSorterPolicy"/> registers implements it over
/// whichever model is current (hot reload); tests implement it with fakes. Every member is safe to call from many
/// threads at once.
/// </summary>
public interface ISorterPolicy
{
    /// <summary>What the model accepts (contract version, tensors, prompt lengths, vocabulary) and where it came from.</summary>
    PolicyContract Contract { get; }

    /// <summary>The greedy response to one prompt.</summary>
    /// <exception cref="ArgumentException">The prompt breaks <see cref="PolicyContract.Prompts"/>; the message names the index and value.</exception>
    long[] Sort(ReadOnlySpan<long> prompt);

    /// <summary>Greedy responses to many prompts, in one batched inference.</summary>
    /// <exception cref="ArgumentException">A prompt breaks <see cref="PolicyContract.Prompts"/>; the message names the row, index and value.</exception>
    long[][] SortBatch(IReadOnlyList<long[]> prompts);

    /// <summary>
    /// Draws <paramref name="n"/> responses the way the trainer's rollouts do, at <paramref name="temperature"/>;
    /// the same seed gives the same responses.
    /// </summary>
    long[][] Sample(ReadOnlySpan<long> prompt, int n, double temperature = 1.0, ulong seed = 0);

    /// <summary>The task's reward components for a response to a prompt (<see cref="SortingRewards"/>).</summary>
    SortScore Score(ReadOnlySpan<long> prompt, ReadOnlySpan<long> response);
}

/// <summary>The reward components of one response; each is named for what it measures.</summary>
/// <param name="InclusionOrdering">The lecture's reward: prompt tokens found in the response, plus adjacent pairs in order.</param>
/// <param name="SortDistance">Share of positions where the response equals the sorted prompt, of max(|response|, |prompt|).</param>
/// <param name="Exact">Whether the response is exactly the sorted prompt.</param>
public readonly record struct SortScore(int InclusionOrdering, double SortDistance, bool Exact)
{
    /// <summary>Scores <paramref name="response"/> against <paramref name="prompt"/>.</summary>
    public static SortScore Of(ReadOnlySpan<long> prompt, ReadOnlySpan<long> response) => new(
        SortingRewards.InclusionOrdering(prompt, response),
        SortingRewards.SortDistance(prompt, response),
        SortingRewards.Exact(prompt, response) == 1);
}
