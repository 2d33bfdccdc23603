using TorchSharp.Modules;
using static TorchSharp.torch.utils;

namespace GrpoPipeline.Training;

/// <summary>
/// TensorBoard event files for a training run, written into the run directory by TorchSharp's
/// <see cref="SummaryWriter"/>: every key of an <see cref="EpochMetrics"/> line becomes a scalar with that tag at
/// step = epoch. Epochs are buffered in memory and written by <see cref="Flush"/>, which the run calls once per
/// <c>run.logEvery</c> epochs, before every checkpoint and at the end.
/// </summary>
public sealed class TensorBoardLog(string runDirectory) : IDisposable
{
    /// <summary>How the names of TensorBoard event files start (<c>events.out.tfevents.&lt;ticks&gt;.&lt;host&gt;.&lt;pid&gt;.&lt;n&gt;</c>).</summary>
    public const string EventFilePrefix = "events.out.tfevents.";

    readonly List<(EpochMetrics Metrics, long WallTime)> _pending = [];
    SummaryWriter? _writer;

    /// <summary>The event files of a run directory, oldest first (TensorBoard reads them in name order too).</summary>
    public static string[] EventFiles(string runDirectory) => Directory.Exists(runDirectory)
        ? Directory.GetFiles(runDirectory, EventFilePrefix + "*").Order(StringComparer.Ordinal).ToArray()
        : [];

    /// <summary>Buffers one epoch's metrics; nothing touches the disk until <see cref="Flush"/>.</summary>
    public void Add(EpochMetrics metrics) => _pending.Add((metrics, DateTimeOffset.UtcNow.ToUnixTimeSeconds()));

    /// <summary>Writes the buffered epochs. The event file is created on the first flush that has something to write.</summary>
    public void Flush()
    {
        if (_pending.Count == 0) return;
        _writer ??= tensorboard.SummaryWriter(runDirectory);
        foreach (var (metrics, wallTime) in _pending)
            foreach (var (tag, value) in metrics.Values)
                _writer.add_scalar(tag, (float)value, metrics.Epoch, wallTime);
        _pending.Clear();
    }

    public void Dispose() => Flush();
}
