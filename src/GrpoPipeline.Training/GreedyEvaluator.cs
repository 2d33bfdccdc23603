using GrpoPipeline.Core;
using static TorchSharp.torch;

namespace GrpoPipeline.Training;

/// <summary>Greedy (argmax) evaluation of a policy on a fixed prompt set, e.g. the held-out prompts.</summary>
public sealed class GreedyEvaluator : IDisposable
{
    readonly Tensor _prompts;
    readonly TokenRows _promptRows;
    readonly TokenRows _responses;
    readonly float[] _rewards;
    readonly RewardFunction _reward;

    public GreedyEvaluator(IReadOnlyList<long[]> prompts, int length, RewardFunction reward)
    {
        Count = prompts.Count;
        _reward = reward;
        _promptRows = TokenRows.From(prompts);
        _prompts = tensor(_promptRows.Tokens, [Count, length]);
        _responses = new TokenRows(Count, length);
        _responses.Lengths.AsSpan().Fill(length);
        _rewards = new float[Count];
    }

    /// <summary>Number of prompts evaluated.</summary>
    public int Count { get; }

    /// <summary>Share of prompts sorted exactly, and the mean (weighted) reward of the greedy responses.</summary>
    public (double Exact, double Reward) Evaluate(nn.Module<Tensor, Tensor> policy)
    {
        if (Count == 0) return (double.NaN, double.NaN);
        bool wasTraining = policy.training;
        policy.eval();
        try
        {
            using var scope = NewDisposeScope();
            using var _ = no_grad();
            policy.forward(_prompts).argmax(-1).data<long>().CopyTo(_responses.Tokens, 0, 0);
            var components = _reward.Score(_promptRows, _responses, 1, _rewards);
            return (components.Exact, _rewards.Average());
        }
        finally
        {
            if (wasTraining) policy.train();
        }
    }

    public void Dispose() => _prompts.Dispose();
}
