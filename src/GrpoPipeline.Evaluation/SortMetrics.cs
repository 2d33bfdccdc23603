using GrpoPipeline.Core;

namespace GrpoPipeline.Evaluation;

/// <summary>
/// Accumulates the per-prompt metrics of greedy responses and aggregates them, over all prompts and per prompt length.
/// Rewards are Core's <see cref="SortingRewards"/>, so they agree with what the trainer optimised; they are defined for
/// any prompt and response lengths, so one class serves a sorter (response length = prompt length L) and a decoder
/// (prompts of minLength..maxLength, responses of any length up to maxLength + 1).
/// </summary>
public sealed class SortMetrics
{
    readonly int _minLength, _maxLength;
    readonly int? _maxResponseLength;
    readonly long[] _sorted;
    readonly long[] _positionHits, _positionPrompts;
    readonly int[] _rewardCounts;
    readonly LengthCounts[] _byLength;
    int _prompts, _exact, _truncated, _longest;
    long _reward, _maxReward, _inclusions, _orderedPairs, _promptTokens, _pairs, _responseTokens;
    double _sortDistance;

    struct LengthCounts
    {
        public int Prompts, Exact, Truncated;
        public long ResponseTokens;
        public double SortDistance;
    }

    /// <summary>Metrics of a sorter: prompts and responses of length <paramref name="length"/> L.</summary>
    public SortMetrics(int length) : this(length, length, maxResponseLength: null)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(length, 2);
    }

    /// <param name="minLength">Shortest prompt accepted.</param>
    /// <param name="maxLength">Longest prompt accepted.</param>
    /// <param name="maxResponseLength">
    /// A decoder's response cap, maxLength + 1: a response that long was cut before EOS and counts as truncated
    /// (<c>PolicyContract.IsTruncated</c>). Null for a sorter, whose response has its prompt's length.
    /// </param>
    public SortMetrics(int minLength, int maxLength, int? maxResponseLength)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(minLength, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(maxLength, minLength);
        if (maxResponseLength is { } cap) ArgumentOutOfRangeException.ThrowIfLessThan(cap, maxLength);
        (_minLength, _maxLength, _maxResponseLength) = (minLength, maxLength, maxResponseLength);
        _sorted = new long[maxLength];
        _positionHits = new long[maxLength];
        _positionPrompts = new long[maxLength];
        _rewardCounts = new int[SortingRewards.MaxInclusionOrdering(maxLength) + 1];
        _byLength = new LengthCounts[maxLength - minLength + 1];
    }

    /// <summary>Prompts added so far.</summary>
    public int Count => _prompts;

    /// <summary>Scores one greedy response to one prompt.</summary>
    /// <exception cref="ArgumentException">The prompt's length is outside minLength..maxLength; a sorter's response
    /// differs in length from its prompt; a decoder's is longer than the cap.</exception>
    public void Add(ReadOnlySpan<long> prompt, ReadOnlySpan<long> response)
    {
        int n = prompt.Length;
        if (n < _minLength || n > _maxLength)
            throw new ArgumentException($"prompt has length {n}; expected {_minLength}..{_maxLength}", nameof(prompt));
        if (_maxResponseLength is { } cap ? response.Length > cap : response.Length != n)
            throw new ArgumentException(_maxResponseLength is null
                ? $"prompt and response must have the same length, got {n} and {response.Length}"
                : $"response has {response.Length} tokens; at most {_maxResponseLength} are possible", nameof(response));
        var sorted = _sorted.AsSpan(0, n);
        prompt.CopyTo(sorted);
        sorted.Sort();

        int matching = 0;
        for (int i = 0; i < n; i++)
        {
            _positionPrompts[i]++;
            if (i < response.Length && sorted[i] == response[i]) { _positionHits[i]++; matching++; }
        }
        bool exact = matching == n && response.Length == n;
        bool truncated = response.Length == _maxResponseLength;
        double distance = SortingRewards.SortDistanceSorted(sorted, response);
        int inclusions = SortingRewards.Inclusions(prompt, response), ordered = SortingRewards.OrderedPairs(prompt, response);

        _prompts++;
        _longest = Math.Max(_longest, n);
        _exact += exact ? 1 : 0;
        _truncated += truncated ? 1 : 0;
        _sortDistance += distance;
        _reward += inclusions + ordered;
        _maxReward += SortingRewards.MaxInclusionOrdering(n);
        _inclusions += inclusions;
        _orderedPairs += ordered;
        _promptTokens += n;
        _pairs += n - 1;
        _responseTokens += response.Length;
        _rewardCounts[inclusions + ordered]++;

        ref var at = ref _byLength[n - _minLength];
        at.Prompts++;
        at.Exact += exact ? 1 : 0;
        at.Truncated += truncated ? 1 : 0;
        at.ResponseTokens += response.Length;
        at.SortDistance += distance;
    }

    /// <summary>The aggregates of everything added; NaN rates when nothing was.</summary>
    public SortSummary Summary()
    {
        double n = _prompts;
        var byLength = new List<LengthSummary>();
        for (int k = 0; k < _byLength.Length; k++)
        {
            var c = _byLength[k];
            if (c.Prompts == 0) continue;
            byLength.Add(new LengthSummary(_minLength + k, c.Prompts, c.Exact, (double)c.Exact / c.Prompts, ConfidenceInterval.Wilson(c.Exact, c.Prompts),
                c.SortDistance / c.Prompts, c.Truncated, (double)c.ResponseTokens / c.Prompts));
        }
        return new SortSummary(
            Prompts: _prompts,
            ExactMatches: _exact,
            ExactMatch: _exact / n,
            ExactMatchInterval: ConfidenceInterval.Wilson(_exact, _prompts),
            MeanInclusionOrdering: _reward / n,
            MaxInclusionOrdering: SortingRewards.MaxInclusionOrdering(_maxLength),
            NormalizedInclusionOrdering: (double)_reward / _maxReward,
            MeanSortDistance: _sortDistance / n,
            PerPositionAccuracy: Enumerable.Range(0, _longest).Select(i => (double)_positionHits[i] / _positionPrompts[i]).ToArray(),
            InclusionRate: (double)_inclusions / _promptTokens,
            OrderingRate: (double)_orderedPairs / _pairs,
            InclusionOrderingDistribution: (int[])_rewardCounts.Clone(),
            ByLength: byLength,
            Truncated: _truncated,
            TruncatedShare: _truncated / n,
            MeanResponseLength: _responseTokens / n);
    }
}

/// <summary>Aggregated metrics of greedy responses on a prompt set.</summary>
/// <param name="Prompts">Number of prompts scored.</param>
/// <param name="ExactMatches">Prompts whose response is exactly the sorted prompt (length included).</param>
/// <param name="ExactMatch">Share of exact matches.</param>
/// <param name="ExactMatchInterval">95% Wilson interval of <paramref name="ExactMatch"/>.</param>
/// <param name="MeanInclusionOrdering">Mean inclusion + ordering reward (<see cref="SortingRewards.InclusionOrdering"/>).</param>
/// <param name="MaxInclusionOrdering">Largest possible inclusion + ordering reward of the longest prompt, 2L−1.</param>
/// <param name="NormalizedInclusionOrdering">The reward earned over the most the prompts could earn (Σ reward ÷ Σ (2|prompt|−1)):
/// <paramref name="MeanInclusionOrdering"/> ÷ <paramref name="MaxInclusionOrdering"/> when every prompt has length L.</param>
/// <param name="MeanSortDistance">Mean sort-distance reward: the share of positions equal to the sorted prompt, of max(|response|, |prompt|).</param>
/// <param name="PerPositionAccuracy">At each position, the share of prompts that long whose response is right there.</param>
/// <param name="InclusionRate">Share of prompt tokens found in the response (each copy needs its own).</param>
/// <param name="OrderingRate">Share of adjacent response pairs in non-decreasing order, of the |prompt|−1 that count
/// (NaN when every prompt has one token).</param>
/// <param name="InclusionOrderingDistribution">Prompts per inclusion + ordering value 0..2L−1.</param>
/// <param name="ByLength">Exact match and more per prompt length, shortest first; only lengths that had prompts.</param>
/// <param name="Truncated">Responses cut at the cap (maxLength + 1) before EOS; always 0 for a sorter.</param>
/// <param name="TruncatedShare">Share of truncated responses.</param>
/// <param name="MeanResponseLength">Mean response length in tokens (EOS excluded).</param>
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
    int[] InclusionOrderingDistribution,
    IReadOnlyList<LengthSummary> ByLength,
    int Truncated,
    double TruncatedShare,
    double MeanResponseLength);

/// <summary>The metrics of the prompts of one length.</summary>
/// <param name="Length">Prompt length.</param>
/// <param name="Prompts">Prompts of that length scored.</param>
/// <param name="ExactMatches">Of them, answered with exactly the sorted prompt.</param>
/// <param name="ExactMatch">Share of exact matches.</param>
/// <param name="ExactMatchInterval">95% Wilson interval of <paramref name="ExactMatch"/>.</param>
/// <param name="MeanSortDistance">Mean sort-distance reward.</param>
/// <param name="Truncated">Responses cut at the cap before EOS.</param>
/// <param name="MeanResponseLength">Mean response length in tokens (EOS excluded).</param>
public sealed record LengthSummary(int Length, int Prompts, int ExactMatches, double ExactMatch, ConfidenceInterval ExactMatchInterval,
    double MeanSortDistance, int Truncated, double MeanResponseLength);
