using GrpoPipeline.Core;
using Microsoft.Extensions.Logging;

namespace GrpoPipeline.Training;

/// <summary>The run directory already holds a run, or cannot be resumed.</summary>
public sealed class RunDirectoryException(string message) : Exception(message);

/// <summary>
/// A training run on disk: the GRPO epochs of <see cref="GrpoTrainer"/> plus the Log and Checkpoint phases —
/// metrics.jsonl, console progress, atomic checkpoints and resume.
/// </summary>
public sealed class TrainingRun : IDisposable
{
    readonly ILogger _log;

    TrainingRun(TrainingState state, RunDirectory run, ILogger log)
    {
        Trainer = new GrpoTrainer(state);
        Directory = run;
        _log = log;
    }

    /// <summary>The trainer that runs the epochs; it owns <see cref="State"/>.</summary>
    public GrpoTrainer Trainer { get; }
    /// <summary>Where the config, metrics, TensorBoard events and checkpoints go.</summary>
    public RunDirectory Directory { get; }
    /// <summary>The trainer's state: policy, optimizer, generators and completed epochs.</summary>
    public TrainingState State => Trainer.State;
    TrainConfig Config => State.Config;

    /// <summary>Starts a new run. Refuses a directory that already holds one, so nothing is overwritten.</summary>
    public static TrainingRun StartNew(TrainConfig config, RunDirectory run, ILogger log)
    {
        config.Validate();
        if (run.HasRun)
            throw new RunDirectoryException($"run directory '{run.Root}' already holds a run; pass --resume to continue it, or choose another --run-dir");
        run.EnsureWritable();
        Writing(run.ConfigPath, "the config", () => AtomicFile.WriteAllText(run.ConfigPath, config.ToJson()));
        var state = TrainingState.Create(config);
        var task = state.Task;
        log.LogInformation("New run {Run}: {Task} ({Kind}) L={Length} V={Vocab}, {Policy} policy, B={Batch} G={Group} μ={Steps}, {Epochs} epochs",
            run.Root, task.Name, config.Task.Kind, task.Rules.LengthRange, task.Vocab, config.Policy.Kind,
            task.BatchSize, config.Grpo.GroupSize, config.Grpo.InnerSteps, config.Epochs);
        return new TrainingRun(state, run, log);
    }

    /// <summary>
    /// Continues a run from its latest checkpoint with the checkpoint's config; <paramref name="epochs"/> may extend it.
    /// Metrics logged after that checkpoint are dropped so the file matches an uninterrupted run.
    /// </summary>
    public static TrainingRun Resume(RunDirectory run, int? epochs, ILogger log)
    {
        run.RecoverCheckpoints();
        run.EnsureWritable();
        var (checkpoint, _) = Checkpoint.NewestGood(run, warning => log.LogWarning("{Warning}", warning));
        var state = Checkpoint.Load(checkpoint);
        if (epochs is { } e)
        {
            if (e < state.Epoch)
            {
                state.Dispose();
                throw new RunDirectoryException($"cannot resume to --epochs {e}: the checkpoint is already at epoch {state.Epoch}");
            }
            state.ExtendEpochs(e);
            AtomicFile.WriteAllText(run.ConfigPath, state.Config.ToJson());
        }
        TruncateMetrics(run.MetricsPath, state.Epoch);
        log.LogInformation("Resuming {Run} from {Checkpoint} (epoch {Epoch} of {Epochs})", run.Root, checkpoint, state.Epoch, state.Config.Epochs);
        return new TrainingRun(state, run, log);
    }

    /// <summary>Trains to <see cref="TrainConfig.Epochs"/>; on cancellation saves a checkpoint and returns.</summary>
    /// <returns>The last epoch's metrics, or null if there was nothing left to do.</returns>
    public EpochMetrics? Train(CancellationToken cancel = default)
    {
        var schedule = Config.Run;
        EpochMetrics? last = null;
        double windowSeconds = 0;
        int windowEpochs = 0;
        using var metrics = new StreamWriter(Directory.MetricsPath, append: true) { AutoFlush = true };
        using var board = schedule.Tensorboard ? new TensorBoardLog(Directory.Root, firstStep: State.Epoch + 1) : null;
        while (State.Epoch < Config.Epochs)
        {
            if (cancel.IsCancellationRequested)
            {
                var saved = SaveCheckpoint(board);
                _log.LogWarning("Stopped at epoch {Epoch}; saved {Checkpoint}. Continue with --resume.", State.Epoch, saved);
                return last;
            }
            last = Trainer.RunEpoch();
            int epoch = State.Epoch;
            bool final = epoch == Config.Epochs;
            double? heldOutExact = null;
            if (final || (schedule.HeldOutEvery > 0 && epoch % schedule.HeldOutEvery == 0))
            {
                var heldOut = Trainer.EvaluateHeldOut();
                heldOutExact = heldOut.Exact;
                last.Add(MetricKeys.HeldOutExact, heldOut.Exact);
                last.Add(MetricKeys.HeldOutReward, heldOut.Reward);
                if (State.Task.IsVariableLength)
                    foreach (var (length, exact) in heldOut.ExactByLength) last.Add(MetricKeys.HeldOutExactAtLength(length), exact);
            }
            Writing(Directory.MetricsPath, $"epoch {epoch}'s metrics", () => metrics.WriteLine(last.ToJsonLine()));
            board?.Add(last);

            windowSeconds += last[MetricKeys.EpochSeconds];
            windowEpochs++;
            if (final || epoch % schedule.LogEvery == 0)
            {
                LogProgress(last, windowEpochs * Config.SamplesPerEpoch / windowSeconds);
                FlushTensorBoard(board);
                (windowSeconds, windowEpochs) = (0, 0);
            }
            if (final || (schedule.CheckpointEvery > 0 && epoch % schedule.CheckpointEvery == 0))
                SaveCheckpoint(board, heldOutExact);
        }
        return last;
    }

    /// <summary>
    /// Flushes TensorBoard first, so every epoch a checkpoint holds is in the event file too: a run killed later and
    /// resumed from this checkpoint loses nothing that metrics.jsonl keeps.
    /// </summary>
    /// <remarks>Then prunes the checkpoints beyond run.keepCheckpoints (keeping the best held-out one).</remarks>
    string SaveCheckpoint(TensorBoardLog? board, double? heldOutExact = null)
    {
        FlushTensorBoard(board);
        var saved = Checkpoint.Save(State, Directory, heldOutExact);
        Checkpoint.Prune(Directory, Config.Run.KeepCheckpoints);
        return saved;
    }

    void FlushTensorBoard(TensorBoardLog? board)
    {
        if (board is not null) Writing(Directory.Root, "the TensorBoard event file", board.Flush);
    }

    /// <summary>Runs a write of the run directory; a failing disk becomes a <see cref="RunStorageException"/> naming it.</summary>
    static void Writing(string path, string what, Action write)
    {
        try { write(); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new RunStorageException($"could not write {what} to '{path}': {e.Message}", e);
        }
    }

    void LogProgress(EpochMetrics m, double samplesPerSecond)
    {
        var heldOut = m.TryGet(MetricKeys.HeldOutExact, out var exact) ? $"  held-out exact {exact:P1}" : "";
        _log.LogInformation("epoch {Epoch,7}/{Epochs}  reward {Mean:F3} ±{Std:F3}  exact {Exact:P1}  kl {Kl:F4}  clip {Low:F3}/{High:F3}{HeldOut}  {Rate:N0} samples/s",
            m.Epoch, Config.Epochs, m[MetricKeys.RewardMean], m[MetricKeys.RewardStd], m[MetricKeys.RewardExact], m[MetricKeys.LossKl],
            m[MetricKeys.ClipRatioLow], m[MetricKeys.ClipRatioHigh], heldOut, samplesPerSecond);
    }

    /// <summary>
    /// Keeps the lines of the epochs the checkpoint holds. A run killed while writing a line (kill -9, power loss)
    /// leaves a torn last line: it is dropped with the rest of what came after the checkpoint. A bad line anywhere
    /// else is damage this cannot repair, and an error.
    /// </summary>
    static void TruncateMetrics(string path, int epoch)
    {
        if (!File.Exists(path)) return;
        var lines = File.ReadAllLines(path).Where(line => line.Length > 0).ToList();
        var kept = new List<string>(lines.Count);
        for (int i = 0; i < lines.Count; i++)
        {
            int? lineEpoch = EpochOf(lines[i]);
            if (lineEpoch is null && i < lines.Count - 1)
                throw new RunDirectoryException($"cannot resume: line {i + 1} of {path} is not a metrics line");
            if (lineEpoch <= epoch) kept.Add(lines[i]);
        }
        AtomicFile.WriteAllText(path, kept.Count == 0 ? "" : string.Join('\n', kept) + "\n");
    }

    static int? EpochOf(string jsonLine)
    {
        try
        {
            using var doc = System.Text.Json.JsonDocument.Parse(jsonLine);
            return doc.RootElement.TryGetProperty(MetricKeys.Epoch, out var epoch) && epoch.TryGetInt32(out int e) ? e : null;
        }
        catch (System.Text.Json.JsonException) { return null; }
    }

    /// <inheritdoc/>
    /// <remarks>
    /// Disposes the trainer, which waits for an overlapped draw still running and disposes <see cref="State"/>.
    /// </remarks>
    public void Dispose() => Trainer.Dispose();
}
