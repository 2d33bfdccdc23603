using System.Text;
using System.Text.Json;
using GrpoPipeline.Core;
using Microsoft.Extensions.Logging.Abstractions;
using GrpoPipeline.Tests;
using NUnit.Framework;
using static GrpoPipeline.Training.Tests.TestConfigs;

namespace GrpoPipeline.Training.Tests;

/// <summary>TensorBoard event files of a training run, read back with a reader that shares no code with the writer.</summary>
[TestFixture, NonParallelizable]   // torch's global generator seeds the initial weights
public sealed class TensorBoardTests
{
    string _dir = null!;
    RunDirectory _run = null!;

    [SetUp]
    public void SetUp()
    {
        _dir = NewTempDir("tensorboard");
        _run = new RunDirectory(Path.Combine(_dir, "run"));
    }

    [TearDown]
    public void TearDown() => DeleteDir(_dir);

    /// <summary>Flushes at 7 and 14 (logEvery), before the checkpoint at 10 and at the end (20).</summary>
    static TrainConfig Config(int epochs = 20) => Tiny(epochs) with { Run = new RunOptions { LogEvery = 7, HeldOutEvery = 5, CheckpointEvery = 10 } };

    static void TrainNew(TrainConfig config, RunDirectory run)
    {
        using var training = TrainingRun.StartNew(config, run, NullLogger.Instance);
        training.Train();
    }

    /// <summary>metrics.jsonl as (tag, epoch) → value, the epoch key being the step rather than a scalar.</summary>
    static Dictionary<(string Tag, long Step), double> MetricsByTagAndStep(string metricsPath)
    {
        var values = new Dictionary<(string, long), double>();
        foreach (var line in File.ReadLines(metricsPath).Where(l => l.Length > 0))
        {
            using var doc = JsonDocument.Parse(line);
            long epoch = doc.RootElement.GetProperty(MetricKeys.Epoch).GetInt64();
            foreach (var property in doc.RootElement.EnumerateObject().Where(p => p.Name != MetricKeys.Epoch))
                values.Add((property.Name, epoch), property.Value.ValueKind == JsonValueKind.Null ? double.NaN : property.Value.GetDouble());
        }
        return values;
    }

    static void AssertSameScalars(IReadOnlyCollection<(string Tag, long Step, float Value)> actual, Dictionary<(string Tag, long Step), double> expected)
    {
        Assert.That(actual.Select(s => (s.Tag, s.Step)), Is.Unique, "a (tag, step) pair appears twice");
        Assert.That(actual.Select(s => (s.Tag, s.Step)), Is.EquivalentTo(expected.Keys), "the (tag, step) pairs differ from metrics.jsonl");
        foreach (var (tag, step, value) in actual)
            Assert.That(value, Is.EqualTo((float)expected[(tag, step)]), $"{tag} at step {step}");   // simple_value is a float
    }

    static List<(string Tag, long Step, float Value)> Scalars(IEnumerable<TensorBoardEvent> events) =>
        events.SelectMany(e => e.Scalars.Select(s => (s.Tag, e.Step, s.Value))).ToList();

    [Test]
    public void Every_Metrics_Key_Is_A_Scalar_At_Its_Epoch_With_Its_Value()
    {
        double start = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds() / 1000.0;
        TrainNew(Config(), _run);
        double end = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds() / 1000.0;

        var files = TensorBoardLog.EventFiles(_run.Root);
        Assert.That(files, Has.Length.EqualTo(1), "one event file, directly in the run directory");
        var events = EventFileReader.Read(files[0]);

        Assert.That(events[0].FileVersion, Is.EqualTo("brain.Event:2"), "SummaryWriter's version record comes first");
        Assert.That(events[1].SessionStatus, Is.EqualTo(TensorBoardEvent.SessionStart));
        Assert.That(events[1].Step, Is.EqualTo(1), "a new run's session starts at epoch 1");
        var scalarEvents = events.Skip(2).ToList();
        Assert.That(scalarEvents.Select(e => e.Step), Is.EqualTo(Enumerable.Range(1, 20).Select(i => (long)i)), "one event per epoch, in order");
        Assert.That(scalarEvents.Select(e => e.WallTime), Is.All.InRange(start - 1, end + 1), "wall times are Unix seconds of the epoch, not of the flush");
        Assert.That(scalarEvents.Select(e => e.WallTime), Is.Ordered);

        var expected = MetricsByTagAndStep(_run.MetricsPath);
        AssertSameScalars(Scalars(scalarEvents), expected);
        Assert.That(expected.Keys.Select(k => k.Tag).Distinct(), Is.SupersetOf(new[] { MetricKeys.RewardMean, MetricKeys.LossKl, MetricKeys.HeldOutExact, MetricKeys.SamplesPerSecond }));
    }

    [Test]
    public void Tensorboard_False_Writes_No_Event_File()
    {
        TrainNew(Config() with { Run = Config().Run with { Tensorboard = false } }, _run);

        Assert.That(File.ReadLines(_run.MetricsPath).Count(), Is.EqualTo(20));
        Assert.That(TensorBoardLog.EventFiles(_run.Root), Is.Empty);
        Assert.That(Directory.GetFiles(_run.Root, "*tfevents*", SearchOption.AllDirectories), Is.Empty);
    }

    [Test]
    public void One_Corrupted_Byte_Fails_The_Crc_Check()
    {
        Assert.That(EventFileReader.Crc32C(Encoding.ASCII.GetBytes("123456789")), Is.EqualTo(0xE3069283u), "premise: the reader's CRC32C is the standard one");
        TrainNew(Config(5), _run);
        var bytes = File.ReadAllBytes(TensorBoardLog.EventFiles(_run.Root).Single());
        var records = EventFileReader.ReadRecords(bytes);
        Assert.That(records, Has.Count.EqualTo(2 + 5));

        // The third record (epoch 1) starts after the first two; flip a byte of its data, then one of its length.
        int third = records.Take(2).Sum(r => 16 + r.Length);
        var data = (byte[])bytes.Clone();
        data[third + 12 + records[2].Length / 2] ^= 0x01;
        Assert.That(() => EventFileReader.ReadRecords(data), Throws.TypeOf<InvalidDataException>().With.Message.Contain("data CRC"));
        var length = (byte[])bytes.Clone();
        length[third] ^= 0x01;
        Assert.That(() => EventFileReader.ReadRecords(length), Throws.TypeOf<InvalidDataException>().With.Message.Contain("length CRC"));
    }

    [Test]
    public void Stopping_Flushes_Every_Epoch_Before_The_Checkpoint()
    {
        // No flush is due by logEvery or a scheduled checkpoint: only the stop's checkpoint flushes.
        var config = Tiny(1_000_000) with { Run = new RunOptions { LogEvery = 1_000_000, HeldOutEvery = 0, CheckpointEvery = 0 } };
        using (var training = TrainingRun.StartNew(config, _run, NullLogger.Instance))
        {
            using var cancel = new CancellationTokenSource(TimeSpan.FromSeconds(1));   // Ctrl+C after a few hundred epochs
            training.Train(cancel.Token);
        }

        int stoppedAt = Checkpoint.ReadManifest(_run.LatestCheckpoint()!).Epoch;
        Assert.That(stoppedAt, Is.GreaterThan(0));
        var events = EventFileReader.Read(TensorBoardLog.EventFiles(_run.Root).Single());
        Assert.That(events.Where(e => e.Scalars.Count > 0).Select(e => e.Step), Is.EqualTo(Enumerable.Range(1, stoppedAt).Select(i => (long)i)));
        AssertSameScalars(Scalars(events), MetricsByTagAndStep(_run.MetricsPath));
    }

    [Test]
    public void A_Resumed_Run_Adds_A_File_That_Purges_What_The_Killed_Session_Wrote_After_Its_Checkpoint()
    {
        // A run that "was killed" after epoch 20 with its latest checkpoint at 10: events 11..20 are orphans.
        TrainNew(Config(), _run);
        _run.SetLatest(RunDirectory.CheckpointName(10));
        var first = TensorBoardLog.EventFiles(_run.Root).Single();
        var firstBytes = File.ReadAllBytes(first);

        using (var resumed = TrainingRun.Resume(_run, null, NullLogger.Instance))
            resumed.Train();

        var files = TensorBoardLog.EventFiles(_run.Root);
        Assert.That(files, Has.Length.EqualTo(2));
        Assert.That(files[0], Is.EqualTo(first), "the earlier file sorts first, as TensorBoard reads them");
        Assert.That(File.ReadAllBytes(first), Is.EqualTo(firstBytes), "the earlier event file is neither overwritten nor truncated");
        var second = EventFileReader.Read(files[1]);
        Assert.That(second[1].SessionStatus, Is.EqualTo(TensorBoardEvent.SessionStart));
        Assert.That(second[1].Step, Is.EqualTo(11), "purge from the first epoch after the checkpoint");
        Assert.That(second.Skip(2).Select(e => e.Step), Is.EqualTo(Enumerable.Range(11, 10).Select(i => (long)i)));

        // What TensorBoard shows is what metrics.jsonl holds after the resume, under both of its loaders.
        var expected = MetricsByTagAndStep(_run.MetricsPath);
        AssertSameScalars(TensorBoardView.PythonLoader(files), expected);
        AssertSameScalars(TensorBoardView.RustLoader(files), expected);
        // Without the START record, the Python loader would show both sessions' points for epochs 11..20.
        Assert.That(TensorBoardView.PythonLoader(files, purge: false).Select(s => (s.Tag, s.Step)), Is.Not.Unique);
    }

    [Test]
    public void Log_Writes_Nothing_Until_It_Is_Flushed_And_Creates_No_File_Without_Data()
    {
        Directory.CreateDirectory(_run.Root);
        using (var empty = new TensorBoardLog(_run.Root, firstStep: 1)) empty.Flush();
        Assert.That(TensorBoardLog.EventFiles(_run.Root), Is.Empty, "a session with nothing to log leaves no file");

        var metrics = new EpochMetrics(1);
        metrics.Add(MetricKeys.RewardMean, 2.5);
        metrics.Add(MetricKeys.LossPolicy, double.NaN);
        using var log = new TensorBoardLog(_run.Root, firstStep: 1);
        log.Add(metrics);
        Assert.That(TensorBoardLog.EventFiles(_run.Root), Is.Empty, "buffered, not written");
        log.Flush();

        var events = EventFileReader.Read(log.FilePath!);
        Assert.That(events[^1].Scalars, Has.Count.EqualTo(2));
        Assert.That(events[^1].Scalars[0], Is.EqualTo((MetricKeys.RewardMean, 2.5f)));
        Assert.That(float.IsNaN(events[^1].Scalars[1].Value), Is.True, "a NaN is written as it is, not dropped");
    }

    /// <summary>What TensorBoard would show for a run's event files, by each of its two loaders' restart rules.</summary>
    static class TensorBoardView
    {
        /// <summary>
        /// tensorboard/backend/event_processing/plugin_event_accumulator.py: files in name order; with file version 2,
        /// every SessionLog.START after the run's first one purges all events at or after its step.
        /// </summary>
        public static List<(string Tag, long Step, float Value)> PythonLoader(IEnumerable<string> files, bool purge = true)
        {
            var shown = new List<(string Tag, long Step, float Value)>();
            bool seenStart = false;
            foreach (var e in files.SelectMany(EventFileReader.Read))
            {
                if (e.SessionStatus == TensorBoardEvent.SessionStart)
                {
                    if (seenStart && purge) shown.RemoveAll(s => s.Step >= e.Step);
                    seenStart = true;
                }
                shown.AddRange(e.Scalars.Select(s => (s.Tag, e.Step, s.Value)));
            }
            return shown;
        }

        /// <summary>tensorboard/data/server (reservoir.rs): a value preempts the values of its tag at or after its step.</summary>
        public static List<(string Tag, long Step, float Value)> RustLoader(IEnumerable<string> files)
        {
            var shown = new List<(string Tag, long Step, float Value)>();
            foreach (var e in files.SelectMany(EventFileReader.Read))
                foreach (var (tag, value) in e.Scalars)
                {
                    shown.RemoveAll(s => s.Tag == tag && s.Step >= e.Step);
                    shown.Add((tag, e.Step, value));
                }
            return shown;
        }
    }
}
