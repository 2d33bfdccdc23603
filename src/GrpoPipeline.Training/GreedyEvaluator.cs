using GrpoPipeline.Core;
using GrpoPipeline.Training.Policies;
using static TorchSharp.torch;

namespace GrpoPipeline.Training;

/// <summary>Greedy evaluation on a prompt set: exact-match share, mean reward, and exact match per prompt length.</summary>
/// <param name="Exact">Share of prompts answered exactly (the task's correctness check).</param>
/// <param name="Reward">Mean (weighted) training reward of the greedy responses.</param>
/// <param name="ExactByLength">Exact-match share per prompt length (one entry for a fixed-length task).</param>
public sealed record HeldOutResult(double Exact, double Reward, IReadOnlyDictionary<int, double> ExactByLength)
{
    /// <summary>No prompts: NaN everywhere.</summary>
    public static HeldOutResult Empty { get; } = new(double.NaN, double.NaN, new Dictionary<int, double>());
}

/// <summary>
/// Greedy (argmax) evaluation of a policy on a fixed prompt set, e.g. the held-out prompts: one forward pass for a
/// factorised policy, one batched greedy decode with the KV cache for a decoder.
/// </summary>
public sealed class GreedyEvaluator
{
    readonly TokenRows _prompts;
    readonly TokenRows _responses;
    readonly float[] _rewards;
    readonly RewardFunction _reward;
    readonly int _maxResponseLength;

    /// <param name="prompts">The prompts to evaluate on (of the task's lengths).</param>
    /// <param name="reward">The training reward and its task (lengths, vocabulary, special tokens, correctness check).</param>
    public GreedyEvaluator(IReadOnlyList<long[]> prompts, RewardFunction reward)
    {
        _reward = reward;
        var task = reward.Task;
        _maxResponseLength = task.MaxResponseLength;
        _prompts = TokenRows.From(prompts, task.Padding);
        _responses = new TokenRows(prompts.Count, _maxResponseLength, task.Padding);
        _rewards = new float[prompts.Count];
    }

    /// <summary>Number of prompts evaluated.</summary>
    public int Count => _prompts.Count;

    /// <summary>Greedy responses of <paramref name="policy"/>, scored.</summary>
    public HeldOutResult Evaluate(GrpoPolicy policy)
    {
        if (Count == 0) return HeldOutResult.Empty;
        policy.Greedy(_prompts, _responses, _maxResponseLength);
        _reward.Score(_prompts, _responses, 1, _rewards);
        var byLength = ExactByLength(out double exact);
        return new HeldOutResult(exact, _rewards.Average(), byLength);
    }

    IReadOnlyDictionary<int, double> ExactByLength(out double overall)
    {
        var hits = new SortedDictionary<int, (int Exact, int Count)>();
        int all = 0;
        for (int i = 0; i < Count; i++)
        {
            int length = _prompts.Lengths[i], right = _reward.Task.IsExact(_prompts[i], _responses[i]) ? 1 : 0;
            var (exact, count) = hits.GetValueOrDefault(length);
            hits[length] = (exact + right, count + 1);
            all += right;
        }
        overall = (double)all / Count;
        return hits.ToDictionary(kv => kv.Key, kv => (double)kv.Value.Exact / kv.Value.Count);
    }
}
