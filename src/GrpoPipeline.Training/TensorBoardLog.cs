using System.Buffers.Binary;
using Google.Protobuf;
using Tensorboard;
using TorchSharp.Utils;
using static TorchSharp.torch.utils;

namespace GrpoPipeline.Training;

/// <summary>
/// TensorBoard event files for a training run, in the run directory: every key of an <see cref="EpochMetrics"/> line
/// becomes a scalar with that tag at step = epoch. Epochs are buffered in memory and written by <see cref="Flush"/>,
/// which the run calls once per <c>run.logEvery</c> epochs, before every checkpoint and at the end.
/// </summary>
/// <remarks>
/// TorchSharp's <see cref="TorchSharp.Modules.SummaryWriter"/> creates the file (its name and the
/// <c>brain.Event:2</c> version record). Its <c>add_scalar</c> opens, appends to, flushes and closes the file for
/// every scalar (0.107's private <c>WriteEvent</c>), about 30 µs each here, some 15% of the 3-prompt seed config's CPU
/// time, and it has no batch or session-log API. So each flush appends its records in one write,
/// built from TorchSharp's own protobuf types (<see cref="Event"/>, <see cref="Summary"/>, <see cref="SessionLog"/>)
/// and framed as <c>WriteEvent</c> frames them (TFRecord: u64 length, masked CRC32C of it, data, masked CRC32C of
/// the data), with one <see cref="Event"/> per epoch holding all its values, stamped with the epoch's own Unix time
/// (<c>add_scalar</c> takes whole seconds). The version record's wall time is SummaryWriter's: .NET ticks, not Unix
/// seconds (TorchSharp 0.107); no chart plots it.
/// </remarks>
/// <param name="runDirectory">Where the event file goes.</param>
/// <param name="firstStep">
/// The first epoch this log will write. It is recorded as a <c>SessionLog.START</c> event at that step, PyTorch's
/// <c>purge_step</c>: TensorBoard then drops the events at or after it that an earlier, killed session wrote.
/// </param>
public sealed class TensorBoardLog(string runDirectory, int firstStep) : IDisposable
{
    /// <summary>How the names of TensorBoard event files start (<c>events.out.tfevents.&lt;ticks&gt;.&lt;host&gt;.&lt;pid&gt;.&lt;n&gt;</c>).</summary>
    public const string EventFilePrefix = "events.out.tfevents.";

    readonly MemoryStream _pending = new();
    readonly double _sessionStart = UnixSeconds();
    bool _started;

    /// <summary>The event file, once the first flush with data has created it.</summary>
    public string? FilePath { get; private set; }

    /// <summary>The event files of a run directory, oldest first (TensorBoard reads them in name order too).</summary>
    public static string[] EventFiles(string runDirectory) => Directory.Exists(runDirectory)
        ? Directory.GetFiles(runDirectory, EventFilePrefix + "*").Order(StringComparer.Ordinal).ToArray()
        : [];

    /// <summary>Buffers one epoch's metrics as one event; nothing touches the disk until <see cref="Flush"/>.</summary>
    public void Add(EpochMetrics metrics)
    {
        if (!_started)
        {
            Append(_pending, new Event { Step = firstStep, WallTime = _sessionStart, SessionLog = new SessionLog { Status = SessionLog.Types.SessionStatus.Start } });
            _started = true;
        }
        var summary = new Summary();
        // Non-finite values are written as they are (the format carries IEEE floats): a NaN loss is how a diverged run
        // shows, and metrics.jsonl keeps the key too (as null). Skipping it would hide exactly that epoch.
        foreach (var (tag, value) in metrics.Values)
            summary.Value.Add(new Summary.Types.Value { Tag = tag, SimpleValue = (float)value });
        Append(_pending, new Event { Step = metrics.Epoch, WallTime = UnixSeconds(), Summary = summary });
    }

    /// <summary>Appends the buffered events in one write; the event file is created on the first flush with data.</summary>
    public void Flush()
    {
        if (_pending.Length == 0) return;
        FilePath ??= CreateEventFile(runDirectory);
        using (var file = new FileStream(FilePath, FileMode.Append, FileAccess.Write, FileShare.Read))
            _pending.WriteTo(file);
        _pending.SetLength(0);
    }

    /// <inheritdoc/>
    /// <remarks>Writes the epochs still buffered (<see cref="Flush"/>).</remarks>
    public void Dispose() => Flush();

    /// <summary>A new event file from <see cref="TorchSharp.Modules.SummaryWriter"/>; it never reuses an existing name.</summary>
    static string CreateEventFile(string directory)
    {
        var before = EventFiles(directory);
        tensorboard.SummaryWriter(directory);
        var created = EventFiles(directory).Except(before).ToList();
        return created.Count == 1 ? created[0]
            : throw new IOException($"expected SummaryWriter to create one event file in '{directory}', found {created.Count} new ones");
    }

    /// <summary>One TFRecord: u64 length, masked CRC32C of the length bytes, the event, masked CRC32C of the event.</summary>
    static void Append(Stream output, Event evnt)
    {
        var data = evnt.ToByteArray();
        var length = new byte[8];
        BinaryPrimitives.WriteUInt64LittleEndian(length, (ulong)data.Length);
        Span<byte> crc = stackalloc byte[4];
        output.Write(length);
        BinaryPrimitives.WriteUInt32LittleEndian(crc, MaskedCrc(length));
        output.Write(crc);
        output.Write(data);
        BinaryPrimitives.WriteUInt32LittleEndian(crc, MaskedCrc(data));
        output.Write(crc);
    }

    // TFRecord's masked CRC (tensorflow/core/lib/hash/crc32c.h): rotate right by 15 bits and add a constant, so a
    // CRC of data that itself holds CRCs stays well distributed.
    static uint MaskedCrc(byte[] data)
    {
        uint crc = CRC32C.process(data);
        return ((crc >> 15) | (crc << 17)) + 0xa282ead8u;
    }

    static double UnixSeconds() => DateTimeOffset.UtcNow.ToUnixTimeMilliseconds() / 1000.0;
}
