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
    readonly VerifiableTask _task;
    readonly RewardFunction _reward;
    readonly GreedyEvaluator _heldOut;
    readonly Parameter[] _parameters;
    readonly Curriculum? _curriculum;
    readonly Sampler[] _samplers;
    Task<SampledBatch>? _pending;

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
        // Overlapped rollouts alternate between two samplers' buffers: one is drawn into while the other is trained on.
        _samplers = [.. Enumerable.Range(0, config.Grpo.Overlap is not null ? 2 : 1).Select(_ => new Sampler(state, _reward))];
    }

    /// <summary>
    /// The state being trained; <see cref="RunEpoch"/> advances it, and disposing the trainer disposes it.
    /// </summary>
    public TrainingState State { get; }

    /// <summary>
    /// Decode a decoder's rollouts with the KV cache (default). False recomputes the whole prefix at every decode step,
    /// as nanoGPT's <c>generate</c> does: the same responses, slower — for the benchmark.
    /// </summary>
    public bool DecodeWithKvCache { get => _samplers[0].KvCache; init { foreach (var s in _samplers) s.KvCache = value; } }
    TrainConfig Config => State.Config;
    GrpoOptions Grpo => State.Config.Grpo;

    /// <summary>One GRPO epoch without any I/O; advances <see cref="TrainingState.Epoch"/>.</summary>
    public EpochMetrics RunEpoch()
    {
        var clock = Stopwatch.StartNew();
        State.RefreshReferenceIfDue(State.Epoch);   // outside the scope: it may build a module
        using var scope = NewDisposeScope();
        var metrics = new EpochMetrics(State.Epoch + 1);

        var batch = Grpo.Overlap is not null ? TakeOverlapped(metrics) : _samplers[0].Draw(TaskAt(State.CurriculumLevel), State.Policy, current: true);
        foreach (var (key, value) in batch.Metrics.Values) metrics.Add(key, value);
        var rollout = batch.Rollout ?? Replay(batch, metrics);
        var rewards = tensor(batch.Rewards, [batch.Prompts.Count, Grpo.GroupSize]);
        var deltas = GrpoMath.Deltas(rewards, Grpo.Deltas);
        Optimize(rollout, deltas, metrics);
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

    /// <summary>Responses kept by dynamic sampling or drawn by the overlapped sampler: π_old from the current weights.</summary>
    IRollout Replay(SampledBatch batch, EpochMetrics metrics) => State.Policy is DecoderPolicy
        ? SequenceRollout.Replay(State, batch.Prompts, batch.Responses, batch.BehaviourLogp, metrics)
        : FactorisedRollout.Replay(State, batch.Prompts, _task.Vocab, batch.Responses, batch.BehaviourLogp, metrics);

    /// <summary>
    /// Overlapped rollouts: takes epoch k's batch (drawn during epoch k−1, or now after a start or resume), then starts
    /// drawing epoch k+1's on another thread with the weights epoch k starts from. The schedule alone decides the weights
    /// and the random state of every draw, so the result does not depend on timing.
    /// </summary>
    SampledBatch TakeOverlapped(EpochMetrics metrics)
    {
        var overlap = State.Overlap!;
        int epoch = State.Epoch;
        var wait = Stopwatch.StartNew();
        var batch = _pending is { } pending ? pending.GetAwaiter().GetResult() : DrawWithOverlapState(epoch);
        metrics.Add(MetricKeys.OverlapWaitSeconds, wait.Elapsed.TotalSeconds);

        PolicyFactory.CopyWeights(State.Policy, overlap.Weights);
        overlap.PromptSamplerState = State.PromptSampler.State;
        overlap.GeneratorState = TrainingState.GeneratorState(State.ResponseGenerator);
        overlap.Level = State.CurriculumLevel;
        var sampler = _samplers[(epoch + 1) % 2];
        var task = TaskAt(overlap.Level);
        _pending = Task.Run(() =>
        {
            using var scope = NewDisposeScope();
            return sampler.Draw(task, overlap.Weights, current: false);
        });
        return batch;
    }

    /// <summary>The draw a checkpoint left pending: the saved weights, random state and level.</summary>
    SampledBatch DrawWithOverlapState(int epoch)
    {
        var overlap = State.Overlap!;
        State.PromptSampler.State = overlap.PromptSamplerState;
        using (var saved = tensor(overlap.GeneratorState)) State.ResponseGenerator.set_state(saved);
        return _samplers[epoch % 2].Draw(TaskAt(overlap.Level), overlap.Weights, current: false);
    }

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
        try { _pending?.Wait(); }
        catch (AggregateException) { }   // the draw's failure surfaced, or will, through RunEpoch
        State.Dispose();
    }
}
