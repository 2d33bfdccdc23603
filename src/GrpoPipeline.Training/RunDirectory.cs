using GrpoPipeline.Core;

namespace GrpoPipeline.Training;

/// <summary>
/// The run directory cannot be written: a full disk, a read-only file system, a missing permission. The message names
/// the path and what was being written.
/// </summary>
public sealed class RunStorageException(string message, Exception? inner = null) : Exception(message, inner);

/// <summary>
/// Layout of a run directory:
/// <code>
/// &lt;run&gt;/config.json                  effective config
/// &lt;run&gt;/metrics.jsonl                one JSON line per epoch
/// &lt;run&gt;/events.out.tfevents.*        TensorBoard event files, one per training session (<see cref="TensorBoardLog"/>)
/// &lt;run&gt;/checkpoints/epoch-NNNNNN/    one folder per checkpoint
/// &lt;run&gt;/checkpoints/latest           name of the newest complete checkpoint
/// </code>
/// </summary>
public sealed class RunDirectory(string root)
{
    /// <summary>The run directory's full path.</summary>
    public string Root { get; } = Path.GetFullPath(root);
    /// <summary><c>&lt;run&gt;/config.json</c>: the effective config.</summary>
    public string ConfigPath => Path.Combine(Root, "config.json");
    /// <summary>
    /// <c>&lt;run&gt;/metrics.jsonl</c>: one JSON line per epoch (<see cref="EpochMetrics.ToJsonLine"/>).
    /// </summary>
    public string MetricsPath => Path.Combine(Root, "metrics.jsonl");
    /// <summary><c>&lt;run&gt;/checkpoints</c>: one folder per checkpoint.</summary>
    public string CheckpointsDir => Path.Combine(Root, "checkpoints");
    /// <summary><c>&lt;run&gt;/checkpoints/latest</c>: the name of the newest complete checkpoint.</summary>
    public string LatestPointerPath => Path.Combine(CheckpointsDir, "latest");

    /// <summary>Default location of a run: <c>models/runs/&lt;runName&gt;</c>.</summary>
    public static string DefaultFor(string runName) => Path.Combine("models", "runs", runName);

    /// <summary>
    /// The folder name of <paramref name="epoch"/>'s checkpoint: <c>epoch-NNNNNN</c>, zero-padded to six digits.
    /// </summary>
    public static string CheckpointName(int epoch) => $"epoch-{epoch:D6}";

    /// <summary>True when the directory already holds a run (a config, metrics or checkpoints).</summary>
    public bool HasRun => File.Exists(ConfigPath) || File.Exists(MetricsPath) || Directory.Exists(CheckpointsDir);

    /// <summary>The newest complete checkpoint, or null when there is none.</summary>
    public string? LatestCheckpoint()
    {
        if (!File.Exists(LatestPointerPath)) return null;
        var name = File.ReadAllText(LatestPointerPath).Trim();
        return name.Length == 0 ? null : Path.Combine(CheckpointsDir, name);
    }

    /// <summary>The newest complete checkpoint; throws <see cref="RunDirectoryException"/> when there is none.</summary>
    public string RequireLatestCheckpoint() => LatestCheckpoint()
        ?? throw new RunDirectoryException($"cannot resume: '{Root}' has no checkpoint ({LatestPointerPath} is missing)");

    /// <summary>
    /// Cleans up after a process killed while writing a checkpoint (<see cref="Checkpoint.Save"/> writes into a hidden
    /// temporary folder and, to replace an epoch, moves the old copy aside): restores a moved-aside checkpoint that
    /// <c>latest</c> still names, and deletes every other hidden leftover.
    /// </summary>
    public void RecoverCheckpoints()
    {
        if (!Directory.Exists(CheckpointsDir)) return;
        var latest = LatestCheckpoint();
        foreach (var dir in Directory.GetDirectories(CheckpointsDir, ".*"))
        {
            if (latest is not null && !Directory.Exists(latest) && Path.GetFileName(dir).StartsWith($".{Path.GetFileName(latest)}.old-", StringComparison.Ordinal))
                Directory.Move(dir, latest);
            else Directory.Delete(dir, recursive: true);
        }
    }

    /// <summary>The complete checkpoints (<c>epoch-NNNNNN</c> folders), oldest first.</summary>
    public IEnumerable<string> Checkpoints() => Directory.Exists(CheckpointsDir)
        ? Directory.GetDirectories(CheckpointsDir, "epoch-*").Where(d => !Path.GetFileName(d).Contains('.')).Order(StringComparer.Ordinal)
        : [];

    /// <summary>
    /// Fails at once, with the reason, when the run cannot write its directory (read-only, no permission, no space for a
    /// file), rather than after the first hour of training.
    /// </summary>
    public void EnsureWritable()
    {
        var probe = Path.Combine(CheckpointsDir, $".write-test-{Environment.ProcessId}");
        try
        {
            Directory.CreateDirectory(CheckpointsDir);
            File.WriteAllText(probe, "grpo");
            File.Delete(probe);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new RunStorageException($"run directory '{Root}' is not writable: {e.Message}", e);
        }
    }

    /// <summary>Points <c>latest</c> at <paramref name="checkpointName"/>, atomically.</summary>
    public void SetLatest(string checkpointName) => AtomicFile.WriteAllText(LatestPointerPath, checkpointName + "\n");
}
