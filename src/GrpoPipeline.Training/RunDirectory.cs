using GrpoPipeline.Core;

namespace GrpoPipeline.Training;

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
    public string Root { get; } = Path.GetFullPath(root);
    public string ConfigPath => Path.Combine(Root, "config.json");
    public string MetricsPath => Path.Combine(Root, "metrics.jsonl");
    public string CheckpointsDir => Path.Combine(Root, "checkpoints");
    public string LatestPointerPath => Path.Combine(CheckpointsDir, "latest");

    /// <summary>Default location of a run: <c>models/runs/&lt;runName&gt;</c>.</summary>
    public static string DefaultFor(string runName) => Path.Combine("models", "runs", runName);

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

    /// <summary>Points <c>latest</c> at <paramref name="checkpointName"/>, atomically.</summary>
    public void SetLatest(string checkpointName) => AtomicFile.WriteAllText(LatestPointerPath, checkpointName + "\n");
}
