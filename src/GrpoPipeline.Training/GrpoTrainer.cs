using System.Diagnostics;
using GrpoPipeline.Core;
using GrpoPipeline.Training.Decoding;
using GrpoPipeline.Training.Rollouts;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace GrpoPipeline.Training;

/// <summary>
/// GRPO on the sorting task. Each epoch reads top-down:
/// <c>Rollout → Score → Advantages → Optimize (μ inner steps)</c>; <see cref="TrainingRun"/> adds Log and Checkpoint.
/// How a policy kind samples its responses and computes their log-probs lives in its <see cref="IRollout"/>:
/// <see cref="FactorisedRollout"/> (seed, transformer) and <see cref="SequenceRollout"/> (decoder).
/// </summary>
public sealed class GrpoTrainer : IDisposable
{
    readonly SortingTask _task;
    readonly RewardFunction _reward;
    readonly GreedyEvaluator _heldOut;
    readonly Parameter[] _parameters;
    readonly TokenRows _prompts;
    readonly TokenRows _responses;
    readonly float[] _rewards;

    /// <summary>Trains <paramref name="state"/> in memory; <see cref="TrainingRun"/> adds the run directory.</summary>
    public GrpoTrainer(TrainingState state)
    {
        State = state;
        var config = state.Config;
        _task = new SortingTask(config.Task);
        _reward = new RewardFunction(config.Rewards);
        _heldOut = new GreedyEvaluator(_task.HeldOutPrompts(), config.Task, _reward);
        _parameters = state.Policy.parameters().ToArray();
        _prompts = _task.NewBatch();
        int responses = _task.BatchSize * config.Grpo.GroupSize;
        _responses = new TokenRows(responses, config.Task.MaxResponseLength, config.Task.IsVariableLength ? config.Task.Special.Pad : 0);
        _rewards = new float[responses];
    }

    public TrainingState State { get; }

    /// <summary>
    /// Decode a decoder's rollouts with the KV cache (default). False recomputes the whole prefix at every decode step,
    /// as nanoGPT's <c>generate</c> does: the same responses, slower — for the benchmark.
    /// </summary>
    public bool DecodeWithKvCache { get; init; } = true;
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
        var rewards = Score(metrics);
        var deltas = GrpoMath.Deltas(rewards, Grpo.Deltas);
        Optimize(rollout, deltas, metrics);
        rollout.AddMetrics(metrics);

        State.Epoch++;
        double seconds = clock.Elapsed.TotalSeconds;
        metrics.Add(MetricKeys.EpochSeconds, seconds);
        metrics.Add(MetricKeys.SamplesPerSecond, Config.SamplesPerEpoch / seconds);
        return metrics;
    }

    /// <summary>Samples a batch of prompts and G responses to each, under no-grad in eval mode.</summary>
    IRollout Rollout()
    {
        _task.SampleTrainingBatch(_prompts, State.PromptSampler);
        return State.Policy is DecoderPolicy
            ? new SequenceRollout(State, _prompts, Config.Task.MaxResponseLength, _responses, DecodeWithKvCache)
            : new FactorisedRollout(State, _prompts, _task.Vocab, _responses);
    }

    /// <summary>Scores the responses on their managed copy; returns rewards [B, G].</summary>
    Tensor Score(EpochMetrics metrics)
    {
        var components = _reward.Score(_prompts, _responses, Grpo.GroupSize, _rewards);
        RewardStatistics.Add(metrics, _rewards, Grpo.GroupSize, components);
        return tensor(_rewards, [_prompts.Count, Grpo.GroupSize]);
    }

    /// <summary>μ optimizer steps on the same rollout: policy loss plus β·KL(π‖π_ref), as the rollout computes them.</summary>
    void Optimize(IRollout rollout, Tensor deltas, EpochMetrics metrics)
    {
        State.Policy.train();
        double learningRate = Grpo.LearningRateAt(State.Epoch, Config.Epochs);
        foreach (var group in State.Optimizer.ParamGroups) group.LearningRate = learningRate;
        double policyLoss = 0, kl = 0, gradNorm = double.NaN;
        StepResult last = default;
        rollout.Prepare(deltas);
        for (int step = 0; step < Grpo.InnerSteps; step++)
        {
            using var scope = NewDisposeScope();
            bool lastStep = step == Grpo.InnerSteps - 1;
            var result = rollout.Step(lastStep);
            policyLoss += result.PolicyLoss;
            kl += result.Kl;
            if (lastStep) last = result;

            State.Optimizer.zero_grad();
            result.Backward.backward();
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
        metrics.Add(MetricKeys.ClipRatioLow, last.ClipLow);
        metrics.Add(MetricKeys.ClipRatioHigh, last.ClipHigh);
        metrics.Add(MetricKeys.PolicyApproxKlOld, last.ApproxKlOld);
        metrics.Add(MetricKeys.GradNorm, gradNorm);
        if (Grpo.LearningRateFinal is not null) metrics.Add(MetricKeys.LearningRate, learningRate);
    }

    /// <summary>Greedy exact-match share, mean reward and exact match per length on the held-out prompts.</summary>
    public HeldOutResult EvaluateHeldOut() => _heldOut.Evaluate(State.Policy);

    public void Dispose() => State.Dispose();
}
