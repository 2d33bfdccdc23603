using GrpoPipeline.Core;

namespace GrpoPipeline.Evaluation;

/// <summary>
/// Accumulates the per-prompt metrics of greedy responses and aggregates them. Rewards are Core's
/// <see cref="SortingRewards"/>, so they agree with what the trainer optimised.
/// </summary>
public sealed class SortMetrics
{
    readonly int _length;
    readonly long[] _sorted;
    readonly long[] _positionHits;
    readonly int[] _rewardCounts;
    int _prompts, _exact;
    long _reward, _inclusions, _orderedPairs, _matchingPositions;
    double _sortDistance;

    /// <param name="length">Prompt and response length L.</param>
    public SortMetrics(int length)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(length, 2);
        _length = length;
        _sorted = new long[length];
        _positionHits = new long[length];
        _rewardCounts = new int[SortingRewards.MaxInclusionOrdering(length) + 1];
    }

    /// <summary>Prompts added so far.</summary>
    public int Count => _prompts;

    /// <summary>Scores one greedy response to one prompt (both of length L).</summary>
    public void Add(ReadOnlySpan<long> prompt, ReadOnlySpan<long> response)
    {
        if (prompt.Length != _length || response.Length != _length)
            throw new ArgumentException($"prompt and response must have length {_length}, got {prompt.Length} and {response.Length}");
        prompt.CopyTo(_sorted);
        _sorted.AsSpan().Sort();

        int matching = 0;
        for (int i = 0; i < _length; i++)
            if (_sorted[i] == response[i]) { _positionHits[i]++; matching++; }
        int reward = SortingRewards.InclusionOrdering(prompt, response);
        // The reward's two parts, for the inclusion and ordering rates: with equal lengths no pair is capped, so the
        // multiset inclusions are what the ordered pairs leave of the reward.
        int ordered = 0;
        for (int i = 0; i + 1 < _length; i++)
            if (response[i] <= response[i + 1]) ordered++;
        int inclusions = reward - ordered;

        _prompts++;
        _exact += matching == _length ? 1 : 0;
        _matchingPositions += matching;
        _sortDistance += SortingRewards.SortDistanceSorted(_sorted, response);
        _reward += reward;
        _inclusions += inclusions;
        _orderedPairs += ordered;
        _rewardCounts[reward]++;
    }

    /// <summary>The aggregates of everything added; NaN rates when nothing was.</summary>
    public SortSummary Summary()
    {
        double n = _prompts;
        int maxInclusionOrdering = SortingRewards.MaxInclusionOrdering(_length);
        double meanInclusionOrdering = _reward / n;
        return new SortSummary(
            Prompts: _prompts,
            ExactMatches: _exact,
            ExactMatch: _exact / n,
            ExactMatchInterval: ConfidenceInterval.Wilson(_exact, _prompts),
            MeanInclusionOrdering: meanInclusionOrdering,
            MaxInclusionOrdering: maxInclusionOrdering,
            NormalizedInclusionOrdering: meanInclusionOrdering / maxInclusionOrdering,
            MeanSortDistance: _sortDistance / n,
            PerPositionAccuracy: _positionHits.Select(h => h / n).ToArray(),
            InclusionRate: _inclusions / (n * _length),
            OrderingRate: _orderedPairs / (n * (_length - 1)),
            InclusionOrderingDistribution: (int[])_rewardCounts.Clone());
    }
}

/// <summary>Aggregated metrics of greedy responses on a prompt set.</summary>
/// <param name="Prompts">Number of prompts scored.</param>
/// <param name="ExactMatches">Prompts whose response is exactly the sorted prompt.</param>
/// <param name="ExactMatch">Share of exact matches.</param>
/// <param name="ExactMatchInterval">95% Wilson interval of <paramref name="ExactMatch"/>.</param>
/// <param name="MeanInclusionOrdering">Mean inclusion + ordering reward (<see cref="SortingRewards.InclusionOrdering"/>).</param>
/// <param name="MaxInclusionOrdering">Largest possible inclusion + ordering reward, 2L−1.</param>
/// <param name="NormalizedInclusionOrdering"><paramref name="MeanInclusionOrdering"/> ÷ <paramref name="MaxInclusionOrdering"/>.</param>
/// <param name="MeanSortDistance">Mean sort-distance reward: the share of positions equal to the sorted prompt.</param>
/// <param name="PerPositionAccuracy">Share of prompts whose response is right at each position.</param>
/// <param name="InclusionRate">Share of prompt tokens found anywhere in the response.</param>
/// <param name="OrderingRate">Share of adjacent response pairs in non-decreasing order.</param>
/// <param name="InclusionOrderingDistribution">Prompts per inclusion + ordering value 0..2L−1.</param>
public sealed record SortSummary(
    int Prompts,
    int ExactMatches,
    double ExactMatch,
    ConfidenceInterval ExactMatchInterval,
    double MeanInclusionOrdering,
    int MaxInclusionOrdering,
    double NormalizedInclusionOrdering,
    double MeanSortDistance,
    double[] PerPositionAccuracy,
    double InclusionRate,
    double OrderingRate,
    int[] InclusionOrderingDistribution);
