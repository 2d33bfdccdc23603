using GrpoPipeline.Core;

namespace GrpoPipeline.Evaluation;

/// <summary>
/// Accumulates the metrics of greedy responses with a task's own rewards and correctness check, so they agree with
/// what the trainer optimised: exact match, every reward component's mean, the reward as a share of the most a response
/// could earn, truncation and response length — over all prompts and per prompt length. One class serves every task
/// and both policy kinds (a factorised policy answers one token per prompt token; a decoder's responses vary in length).
/// </summary>
public sealed class TaskMetrics
{
    readonly VerifiableTask _task;
    readonly double[] _weights;
    readonly int _minLength, _maxLength;
    readonly int? _maxResponseLength;
    readonly double[] _values, _componentSums;
    readonly Counts[] _byLength;
    Counts _all;

    struct Counts
    {
        public int Prompts, Exact, Truncated;
        public long ResponseTokens;
        public double RewardShare;

        public void Add(bool exact, bool truncated, int responseLength, double share)
        {
            Prompts++;
            Exact += exact ? 1 : 0;
            Truncated += truncated ? 1 : 0;
            ResponseTokens += responseLength;
            RewardShare += share;
        }
    }

    /// <param name="task">The model's task: its components, correctness check and default weights.</param>
    /// <param name="maxResponseLength">
    /// A decoder's longest response, EOS included: a response that long was cut before EOS and counts as truncated
    /// (<c>PolicyContract.IsTruncated</c>). Null for a factorised policy, whose response has its prompt's length.
    /// </param>
    public TaskMetrics(VerifiableTask task, int? maxResponseLength)
    {
        ArgumentNullException.ThrowIfNull(task);
        _task = task;
        _weights = task.Weights(new RewardWeights());
        (_minLength, _maxLength, _maxResponseLength) = (task.Rules.MinLength, task.Rules.MaxLength, maxResponseLength);
        _values = new double[task.Components.Count];
        _componentSums = new double[task.Components.Count];
        _byLength = new Counts[_maxLength - _minLength + 1];
    }

    /// <summary>Prompts added so far.</summary>
    public int Count => _all.Prompts;

    /// <summary>Scores one greedy response (EOS excluded) to one prompt.</summary>
    /// <exception cref="ArgumentException">The prompt's length is outside the task's; a factorised policy's response
    /// differs in length from its prompt; a decoder's is longer than its longest.</exception>
    public void Add(ReadOnlySpan<long> prompt, ReadOnlySpan<long> response)
    {
        int n = prompt.Length;
        if (n < _minLength || n > _maxLength)
            throw new ArgumentException($"prompt has length {n}; expected {_minLength}..{_maxLength}", nameof(prompt));
        if (_maxResponseLength is { } cap ? response.Length > cap : response.Length != n)
            throw new ArgumentException(_maxResponseLength is null
                ? $"prompt and response must have the same length, got {n} and {response.Length}"
                : $"response has {response.Length} tokens; at most {_maxResponseLength} are possible", nameof(response));
        _task.Score(prompt, response, _values);
        double reward = 0;
        for (int i = 0; i < _values.Length; i++)
        {
            _componentSums[i] += _values[i];
            reward += _weights[i] * _values[i];
        }
        bool exact = _task.IsExact(prompt, response), truncated = response.Length == _maxResponseLength;
        double share = reward / _task.MaxReward(_weights, n);
        _all.Add(exact, truncated, response.Length, share);
        _byLength[n - _minLength].Add(exact, truncated, response.Length, share);
    }

    /// <summary>The aggregates of everything added; NaN rates when nothing was.</summary>
    public TaskSummary Summary()
    {
        double n = _all.Prompts;
        var byLength = new List<LengthSummary>();
        for (int k = 0; k < _byLength.Length; k++)
        {
            var c = _byLength[k];
            if (c.Prompts == 0) continue;
            byLength.Add(new LengthSummary(_minLength + k, c.Prompts, c.Exact, (double)c.Exact / c.Prompts, ConfidenceInterval.Wilson(c.Exact, c.Prompts),
                c.RewardShare / c.Prompts, c.Truncated, (double)c.ResponseTokens / c.Prompts));
        }
        var components = _task.Components.Select((c, i) => new ComponentMean(c.Name, _componentSums[i] / n, _weights[i])).ToList();
        return new TaskSummary(_task.Name, _all.Prompts, _all.Exact, _all.Exact / n, ConfidenceInterval.Wilson(_all.Exact, _all.Prompts),
            components, _all.RewardShare / n, byLength, _all.Truncated, _all.Truncated / n, _all.ResponseTokens / n);
    }
}

/// <summary>The mean of one reward component over the prompts scored.</summary>
/// <param name="Name">The component's name (<see cref="RewardComponent.Name"/>).</param>
/// <param name="Mean">Its mean value.</param>
/// <param name="DefaultWeight">Its weight in <see cref="TaskSummary.MeanRewardShare"/>: the task's default.</param>
public sealed record ComponentMean(string Name, double Mean, double DefaultWeight);

/// <summary>Aggregated metrics of greedy responses on a prompt set.</summary>
/// <param name="Task">The task's name.</param>
/// <param name="Prompts">Number of prompts scored.</param>
/// <param name="ExactMatches">Prompts answered exactly right (length included).</param>
/// <param name="ExactMatch">Share of exact matches.</param>
/// <param name="ExactMatchInterval">95% Wilson interval of <paramref name="ExactMatch"/>.</param>
/// <param name="Rewards">Every reward component's mean, in the task's order.</param>
/// <param name="MeanRewardShare">Mean of the reward with the task's default weights over the most a response to the
/// prompt could earn (<see cref="VerifiableTask.MaxReward"/>), 0..1: comparable across prompt lengths.</param>
/// <param name="ByLength">Exact match and more per prompt length, shortest first; only lengths that had prompts.</param>
/// <param name="Truncated">Responses cut at the longest before EOS; always 0 for a factorised policy.</param>
/// <param name="TruncatedShare">Share of truncated responses.</param>
/// <param name="MeanResponseLength">Mean response length in tokens (EOS excluded).</param>
public sealed record TaskSummary(
    string Task,
    int Prompts,
    int ExactMatches,
    double ExactMatch,
    ConfidenceInterval ExactMatchInterval,
    IReadOnlyList<ComponentMean> Rewards,
    double MeanRewardShare,
    IReadOnlyList<LengthSummary> ByLength,
    int Truncated,
    double TruncatedShare,
    double MeanResponseLength);

/// <summary>The metrics of the prompts of one length.</summary>
/// <param name="Length">Prompt length.</param>
/// <param name="Prompts">Prompts of that length scored.</param>
/// <param name="ExactMatches">Of them, answered exactly right.</param>
/// <param name="ExactMatch">Share of exact matches.</param>
/// <param name="ExactMatchInterval">95% Wilson interval of <paramref name="ExactMatch"/>.</param>
/// <param name="MeanRewardShare">Mean reward share (<see cref="TaskSummary.MeanRewardShare"/>).</param>
/// <param name="Truncated">Responses cut at the longest before EOS.</param>
/// <param name="MeanResponseLength">Mean response length in tokens (EOS excluded).</param>
public sealed record LengthSummary(int Length, int Prompts, int ExactMatches, double ExactMatch, ConfidenceInterval ExactMatchInterval,
    double MeanRewardShare, int Truncated, double MeanResponseLength);
