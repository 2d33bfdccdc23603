using System.Diagnostics;
using GrpoPipeline.Core;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using static TorchSharp.torch.nn.functional;

namespace GrpoPipeline.Training;

/// <summary>
/// GRPO on the sorting task. Each epoch reads top-down:
/// <c>Rollout → Score → Advantages → Optimize (μ inner steps)</c>; <see cref="TrainingRun"/> adds Log and Checkpoint.
/// </summary>
public sealed class GrpoTrainer : IDisposable
{
    readonly SortingTask _task;
    readonly RewardFunction _reward;
    readonly GreedyEvaluator _heldOut;
    readonly Parameter[] _parameters;
    readonly int _batch, _group, _length, _vocab;
    readonly TokenRows _prompts;
    readonly TokenRows _responses;
    readonly float[] _rewardBuffer;

    /// <summary>Trains <paramref name="state"/> in memory; <see cref="TrainingRun"/> adds the run directory.</summary>
    public GrpoTrainer(TrainingState state)
    {
        State = state;
        var config = state.Config;
        _task = new SortingTask(config.Task);
        _reward = new RewardFunction(config.Rewards);
        _heldOut = new GreedyEvaluator(_task.HeldOutPrompts(), _task.Length, _reward);
        _parameters = state.Policy.parameters().ToArray();
        (_batch, _group, _length, _vocab) = (_task.BatchSize, config.Grpo.GroupSize, _task.Length, _task.Vocab);
        _prompts = _task.NewBatch();
        _responses = new TokenRows(_batch * _group, _length);
        _responses.Lengths.AsSpan().Fill(_length);   // a factorised policy answers every position
        _rewardBuffer = new float[_batch * _group];
    }

    public TrainingState State { get; }
    TrainConfig Config => State.Config;
    GrpoOptions Grpo => State.Config.Grpo;

    /// <summary>One GRPO epoch without any I/O; advances <see cref="TrainingState.Epoch"/>.</summary>
    public EpochMetrics RunEpoch()
    {
        var clock = Stopwatch.StartNew();
        State.RefreshReferenceIfDue(State.Epoch);   // outside the scope: it may build a module
        using var scope = NewDisposeScope();
        var metrics = new EpochMetrics(State.Epoch + 1);

        var rollout = Rollout();
        var rewards = Score(rollout, metrics);
        var deltas = GrpoMath.Deltas(rewards, Grpo.Deltas);
        Optimize(rollout, deltas, metrics);

        State.Epoch++;
        double seconds = clock.Elapsed.TotalSeconds;
        metrics.Add(MetricKeys.EpochSeconds, seconds);
        metrics.Add(MetricKeys.SamplesPerSecond, Config.SamplesPerEpoch / seconds);
        return metrics;
    }

    /// <summary>The tensors of one rollout: responses [B, L, G]; log π_old and log π_ref over the vocab, [B, L, V].</summary>
    sealed record RolloutBatch(Tensor Prompts, Tensor Responses, Tensor LogProbsOld, Tensor? RefLogProbs, double Entropy);

    /// <summary>Samples G responses per prompt and records log π_old (and log π_ref) under no-grad.</summary>
    RolloutBatch Rollout()
    {
        _task.SampleTrainingBatch(_prompts, State.PromptSampler);
        var prompts = tensor(_prompts.Tokens, [_batch, _length]);
        using var _ = no_grad();
        State.Policy.eval();   // dropout off while sampling
        var logProbs = LogProbs(State.Policy, prompts);                                         // [B, L, V]
        var responses = multinomial(logProbs.exp().view(_batch * _length, _vocab), _group, replacement: true,
            generator: State.ResponseGenerator).view(_batch, _length, _group);                 // [B, L, G]
        double entropy = GrpoMath.Entropy(logProbs).item<float>();
        var refLogProbs = State.Reference is { } reference ? LogProbs(reference, prompts) : null;
        return new RolloutBatch(prompts, responses, logProbs, refLogProbs, entropy);
    }

    /// <summary>Scores the rollout on one contiguous managed copy of the responses; returns rewards [B, G].</summary>
    Tensor Score(RolloutBatch rollout, EpochMetrics metrics)
    {
        rollout.Responses.permute(0, 2, 1).contiguous().data<long>().CopyTo(_responses.Tokens, 0, 0);   // [B, G, L]
        var components = _reward.Score(_prompts, _responses, _group, _rewardBuffer);
        RewardStatistics.Add(metrics, _rewardBuffer, _group, components);
        return tensor(_rewardBuffer, [_batch, _group]);
    }

    /// <summary>
    /// μ optimizer steps on the same rollout: clipped surrogate plus β·KL(π‖π_ref), computed on [B, L, V] from the
    /// rollout's <see cref="TokenStatistics"/> (the same values as per-sample terms, without a gather per step), with
    /// the objective's gradient w.r.t. the log-probs in closed form (<see cref="GrpoMath.LossAndGradient"/>).
    /// </summary>
    void Optimize(RolloutBatch rollout, Tensor deltas, EpochMetrics metrics)
    {
        var stats = GrpoMath.Aggregate(rollout.Responses, deltas, _vocab);
        State.Policy.train();
        double learningRate = Grpo.LearningRateAt(State.Epoch, Config.Epochs);
        foreach (var group in State.Optimizer.ParamGroups) group.LearningRate = learningRate;
        double policyLoss = 0, kl = 0, gradNorm = double.NaN, clipLow = 0, clipHigh = 0;
        for (int step = 0; step < Grpo.InnerSteps; step++)
        {
            using var scope = NewDisposeScope();
            bool lastStep = step == Grpo.InnerSteps - 1;
            var logProbs = LogProbs(State.Policy, rollout.Prompts);
            var objective = GrpoMath.LossAndGradient(logProbs.detach(), rollout.LogProbsOld, rollout.RefLogProbs,
                stats, Grpo.Loss, Grpo.ClipLow, Grpo.ClipHigh, Grpo.KlEstimator, Grpo.KlCoef);
            policyLoss += objective.PolicyLoss.item<float>();
            kl += objective.Kl.item<float>();
            if (lastStep)
            {
                var (low, high) = GrpoMath.ClipFractions(logProbs.detach(), rollout.LogProbsOld, stats, Grpo.ClipLow, Grpo.ClipHigh);
                (clipLow, clipHigh) = (low.item<float>(), high.item<float>());
            }

            State.Optimizer.zero_grad();
            (logProbs * objective.Gradient).sum().backward();   // its gradient w.r.t. the log-probs is objective.Gradient
            // With clipping off the norm is still measured once per epoch (a 1e30 bound never binds).
            if (Grpo.MaxGradNorm > 0 || lastStep)
            {
                double norm = nn.utils.clip_grad_norm_(_parameters, Grpo.MaxGradNorm > 0 ? Grpo.MaxGradNorm : 1e30);
                if (lastStep) gradNorm = norm;
            }
            State.Optimizer.step();
        }
        metrics.Add(MetricKeys.LossPolicy, policyLoss / Grpo.InnerSteps);
        metrics.Add(MetricKeys.LossKl, State.Reference is null ? 0 : kl / Grpo.InnerSteps);
        metrics.Add(MetricKeys.ClipRatioLow, clipLow);
        metrics.Add(MetricKeys.ClipRatioHigh, clipHigh);
        metrics.Add(MetricKeys.PolicyEntropy, rollout.Entropy);
        metrics.Add(MetricKeys.GradNorm, gradNorm);
        if (Grpo.LearningRateFinal is not null) metrics.Add(MetricKeys.LearningRate, learningRate);
    }

    /// <summary>log softmax(logits / T): the distribution that is sampled is the one that is trained.</summary>
    Tensor LogProbs(nn.Module<Tensor, Tensor> policy, Tensor prompts)
    {
        var logits = policy.forward(prompts);
        return log_softmax(Grpo.Temperature == 1 ? logits : logits / Grpo.Temperature, -1);
    }

    /// <summary>Greedy exact-match share and mean reward on the held-out prompts.</summary>
    public (double Exact, double Reward) EvaluateHeldOut() => _heldOut.Evaluate(State.Policy);

    public void Dispose()
    {
        _heldOut.Dispose();
        State.Dispose();
    }
}
