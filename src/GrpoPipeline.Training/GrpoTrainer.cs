using System.Diagnostics;
using GrpoPipeline.Core;
using GrpoPipeline.Training.Policies;
using GrpoPipeline.Training.Rollouts;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace GrpoPipeline.Training;

/// <summary>
/// GRPO on the run's task. Each epoch reads top-down:
/// <c>Rollout → Score → Deltas → Optimize (μ inner steps)</c>; <see cref="TrainingRun"/> adds Log and Checkpoint.
/// How a policy kind samples its responses and computes their log-probs lives in the kind (<see cref="GrpoPolicy"/>);
/// <see cref="Rollout"/> turns them into the objective.
/// </summary>
public sealed class GrpoTrainer : IDisposable
{
    readonly VerifiableTask _task;
    readonly RewardFunction _reward;
    readonly GreedyEvaluator _heldOut;
    readonly Parameter[] _parameters;
    readonly Curriculum? _curriculum;
    readonly Sampler _sampler;
    readonly OverlappedSampler? _overlapped;

    /// <summary>Trains <paramref name="state"/> in memory; <see cref="TrainingRun"/> adds the run directory.</summary>
    public GrpoTrainer(TrainingState state)
    {
        State = state;
        var config = state.Config;
        _task = state.Task;
        _reward = new RewardFunction(_task, config.Rewards);
        _heldOut = new GreedyEvaluator(_task.HeldOutPrompts(), _reward);
        _parameters = state.Policy.parameters().ToArray();
        _curriculum = config.Task.Curriculum is null ? null : new Curriculum(config.Task, _reward);
        _sampler = new Sampler(state, _reward);
        if (config.Grpo.Overlap is not null) _overlapped = new OverlappedSampler(state, _reward, TaskAt);
    }

    /// <summary>
    /// The state being trained; <see cref="RunEpoch"/> advances it, and disposing the trainer disposes it.
    /// </summary>
    public TrainingState State { get; }

    /// <summary>
    /// Decode an autoregressive policy's rollouts with the KV cache (default). False recomputes the whole prefix at every
    /// decode step, as nanoGPT's <c>generate</c> does: the same responses, slower — for the benchmark.
    /// </summary>
    public bool DecodeWithKvCache
    {
        get => _sampler.KvCache;
        init { _sampler.KvCache = value; if (_overlapped is not null) _overlapped.KvCache = value; }
    }
    TrainConfig Config => State.Config;
    GrpoOptions Grpo => State.Config.Grpo;

    /// <summary>One GRPO epoch without any I/O; advances <see cref="TrainingState.Epoch"/>.</summary>
    public EpochMetrics RunEpoch()
    {
        var clock = Stopwatch.StartNew();
        State.RefreshReferenceIfDue(State.Epoch);   // outside the scope: it may build a module
        using var scope = NewDisposeScope();
        var metrics = new EpochMetrics(State.Epoch + 1);

        var batch = _overlapped?.Take(metrics) ?? _sampler.Draw(TaskAt(State.CurriculumLevel), State.Policy, current: true);
        foreach (var (key, value) in batch.Metrics.Values) metrics.Add(key, value);
        var rewards = tensor(batch.Rewards, [batch.Prompts.Count, Grpo.GroupSize]);
        var deltas = GrpoMath.Deltas(rewards, Grpo.Deltas);
        var rollout = Rollout.Build(State, batch, deltas, metrics);
        Optimize(rollout, metrics);
        rollout.AddMetrics(metrics);
        AdaptEntropyCoef(batch.Entropy, metrics);

        State.Epoch++;
        AdvanceCurriculum(metrics);
        double seconds = clock.Elapsed.TotalSeconds;
        metrics.Add(MetricKeys.EpochSeconds, seconds);
        metrics.Add(MetricKeys.SamplesPerSecond, Config.SamplesPerEpoch / seconds);
        return metrics;
    }

    VerifiableTask TaskAt(int level) => _curriculum is null ? _task : _curriculum.TaskAt(level);

    /// <summary>The entropy controller: the coefficient of the next epoch from this rollout's entropy.</summary>
    void AdaptEntropyCoef(double entropy, EpochMetrics metrics)
    {
        if (Grpo.Entropy is not { } bonus) return;
        metrics.Add(MetricKeys.PolicyEntropyCoef, State.EntropyCoef);
        if (bonus.Controller is { } c)
            State.EntropyCoef = GrpoMath.NextEntropyCoef(State.EntropyCoef, entropy, c.Target, c.Step, c.Max);
    }

    /// <summary>The curriculum's check after the epoch: held-out exact at the current level, and the next level.</summary>
    void AdvanceCurriculum(EpochMetrics metrics)
    {
        if (_curriculum is null) return;
        metrics.Add(MetricKeys.CurriculumLevel, State.CurriculumLevel);
        var (level, exact) = _curriculum.Check(State.CurriculumLevel, State.Epoch, State.Policy);
        if (exact is { } e) metrics.Add(MetricKeys.CurriculumExact, e);
        State.CurriculumLevel = level;
    }

    /// <summary>μ optimizer steps on the same rollout: policy loss plus β·KL(π‖π_ref), as the rollout computes them.</summary>
    void Optimize(Rollout rollout, EpochMetrics metrics)
    {
        State.Policy.train();
        double learningRate = Grpo.LearningRateAt(State.Epoch, Config.Epochs);
        foreach (var group in State.Optimizer.ParamGroups) group.LearningRate = learningRate;
        double policyLoss = 0, kl = 0, gradNorm = double.NaN;
        StepResult last = default;
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
            State.Optimizer.Step();
        }
        metrics.Add(MetricKeys.LossPolicy, policyLoss / Grpo.InnerSteps);
        metrics.Add(MetricKeys.LossKl, State.Reference is null ? 0 : kl / Grpo.InnerSteps);
        metrics.Add(MetricKeys.ClipRatioLow, last.ClipLow);
        metrics.Add(MetricKeys.ClipRatioHigh, last.ClipHigh);
        if (Grpo.DualClip is not null) metrics.Add(MetricKeys.ClipRatioDual, last.ClipDual);
        metrics.Add(MetricKeys.PolicyApproxKlOld, last.ApproxKlOld);
        metrics.Add(MetricKeys.GradNorm, gradNorm);
        if (Grpo.LearningRateFinal is not null) metrics.Add(MetricKeys.LearningRate, learningRate);
    }

    /// <summary>Greedy exact-match share, mean reward and exact match per length on the held-out prompts.</summary>
    public HeldOutResult EvaluateHeldOut() => _heldOut.Evaluate(State.Policy);

    /// <summary>Waits for a pending overlapped draw (it uses the state's modules), then frees the state.</summary>
    public void Dispose()
    {
        _overlapped?.Dispose();
        State.Dispose();
    }
}
