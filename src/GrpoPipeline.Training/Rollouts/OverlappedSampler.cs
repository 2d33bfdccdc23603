using GrpoPipeline.Training.Policies;
using System.Diagnostics;
using GrpoPipeline.Core;
using static TorchSharp.torch;

namespace GrpoPipeline.Training.Rollouts;

/// <summary>
/// Overlapped rollouts (grpo.overlap): epoch k's batch was drawn on another thread during epoch k−1, with the
/// weights epoch k−1 started from, while the learner took its μ steps. <see cref="Take"/> returns it and starts drawing
/// epoch k+1's with the weights epoch k starts from. Two <see cref="Sampler"/>s alternate, one drawn into while the
/// other's batch is trained on. The schedule alone decides the weights and the random state of every draw
/// (<see cref="OverlapState"/>, which a checkpoint saves), so the result does not depend on timing, and a resumed run
/// draws what the uninterrupted one drew.
/// </summary>
sealed class OverlappedSampler : IDisposable
{
    readonly TrainingState _state;
    readonly Func<int, VerifiableTask> _taskAt;
    readonly Sampler[] _samplers;
    Task<SampledBatch>? _pending;

    /// <param name="state">The run; its <see cref="TrainingState.Overlap"/> holds the next draw's weights and random state.</param>
    /// <param name="reward">The training reward.</param>
    /// <param name="taskAt">The task at a curriculum level.</param>
    public OverlappedSampler(TrainingState state, RewardFunction reward, Func<int, VerifiableTask> taskAt)
    {
        _state = state;
        _taskAt = taskAt;
        _samplers = [new Sampler(state, reward), new Sampler(state, reward)];
    }

    /// <summary>Decode an autoregressive policy's responses with the KV cache.</summary>
    public bool KvCache { set { foreach (var s in _samplers) s.KvCache = value; } }

    /// <summary>
    /// Takes epoch k's batch (drawn during epoch k−1, or now after a start or resume), then starts drawing epoch k+1's
    /// on another thread with the weights epoch k starts from. The batch carries the behaviour log-probs.
    /// </summary>
    public SampledBatch Take(EpochMetrics metrics)
    {
        var overlap = _state.Overlap!;
        int epoch = _state.Epoch;
        var wait = Stopwatch.StartNew();
        var batch = _pending is { } pending ? pending.GetAwaiter().GetResult() : DrawWithSavedState(epoch);
        metrics.Add(MetricKeys.OverlapWaitSeconds, wait.Elapsed.TotalSeconds);

        PolicyFactory.CopyWeights(_state.Policy, overlap.Weights);
        overlap.PromptSamplerState = _state.PromptSampler.State;
        overlap.GeneratorState = TrainingState.GeneratorState(_state.ResponseGenerator);
        overlap.Level = _state.CurriculumLevel;
        var sampler = _samplers[(epoch + 1) % 2];
        var task = _taskAt(overlap.Level);
        _pending = Task.Run(() =>
        {
            using var scope = NewDisposeScope();
            return sampler.Draw(task, overlap.Weights, current: false);
        });
        return batch;
    }

    /// <summary>The draw a checkpoint left pending: the saved weights, random state and level.</summary>
    SampledBatch DrawWithSavedState(int epoch)
    {
        var overlap = _state.Overlap!;
        _state.PromptSampler.State = overlap.PromptSamplerState;
        using (var saved = tensor(overlap.GeneratorState)) _state.ResponseGenerator.set_state(saved);
        return _samplers[epoch % 2].Draw(_taskAt(overlap.Level), overlap.Weights, current: false);
    }

    /// <summary>Waits for a pending draw: it uses the state's modules, which the caller disposes next.</summary>
    public void Dispose()
    {
        try { _pending?.Wait(); }
        catch (AggregateException) { }   // the draw's failure surfaced, or will, through Take
    }
}
