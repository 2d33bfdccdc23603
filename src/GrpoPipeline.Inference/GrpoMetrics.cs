using System.Diagnostics.Metrics;
using GrpoPipeline.Inference.Hosting;

namespace GrpoPipeline.Inference;

/// <summary>
/// The project's one <see cref="Meter"/>, named <see cref="MeterName"/>. Policies record their inferences, the
/// hot-reload host its reloads, and the HTTP API the requests it rejects. With no listener an instrument costs next to
/// nothing; subscribe with OpenTelemetry (<c>.AddMeter(GrpoMetrics.MeterName)</c>) or a <see cref="MeterListener"/>.
/// Instrument names are dotted and stable; Prometheus shows them as <c>grpo_…</c> series.
/// </summary>
public static class GrpoMetrics
{
    /// <summary>Name of the meter every GrpoPipeline instrument belongs to.</summary>
    public const string MeterName = "GrpoPipeline";

    internal static readonly Meter Meter = new(MeterName, typeof(GrpoMetrics).Assembly.GetName().Version?.ToString());

    /// <summary>Wall time of one inference call (a response, a batch, a sample), in seconds.</summary>
    internal static readonly Histogram<double> InferenceDuration = Meter.CreateHistogram<double>(
        "grpo.inference.duration", "s", "Wall time of one inference call (a response, a batch or a sample)",
        advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = [1e-5, 2.5e-5, 5e-5, 1e-4, 2.5e-4, 5e-4, 1e-3, 2.5e-3, 5e-3, 1e-2, 2.5e-2, 5e-2, 0.1, 0.25, 0.5, 1] });

    /// <summary>Prompts answered (greedily or sampled for).</summary>
    internal static readonly Counter<long> PromptsScored = Meter.CreateCounter<long>(
        "grpo.inference.prompts", "{prompt}", "Prompts answered by inference calls");

    /// <summary>Prompts per inference call.</summary>
    internal static readonly Histogram<int> BatchSize = Meter.CreateHistogram<int>(
        "grpo.inference.batch_size", "{prompt}", "Prompts per inference call",
        advice: new InstrumentAdvice<int> { HistogramBucketBoundaries = [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 4096] });

    /// <summary>HTTP requests refused before inference, tagged with the status code.</summary>
    internal static readonly Counter<long> RequestsRejected = Meter.CreateCounter<long>(
        "grpo.requests.rejected", "{request}", "Requests refused before inference (bad input, no key, rate limit), by status code");

    /// <summary>Time a request waited in a hosted policy's queue before its batch started, in seconds.</summary>
    internal static readonly Histogram<double> QueueTime = Meter.CreateHistogram<double>(
        "grpo.batching.queue_time", "s", "Time a request waited in the queue before its batch started",
        advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = [1e-5, 2.5e-5, 5e-5, 1e-4, 2.5e-4, 5e-4, 1e-3, 2.5e-3, 5e-3, 1e-2, 2.5e-2, 5e-2, 0.1, 0.25, 0.5, 1] });

    /// <summary>Requests refused because the queue was full.</summary>
    internal static readonly Counter<long> RequestsOverloaded = Meter.CreateCounter<long>(
        "grpo.batching.overloaded", "{request}", "Requests refused because the hosted policy's queue was full");

    /// <summary>Replacement models swapped in.</summary>
    internal static readonly Counter<long> ModelReloads = Meter.CreateCounter<long>(
        "grpo.model.reloads", "{reload}", "Replacement model files swapped in");

    /// <summary>Replacement models rejected (the previous model kept serving).</summary>
    internal static readonly Counter<long> ModelReloadsRejected = Meter.CreateCounter<long>(
        "grpo.model.reloads.rejected", "{reload}", "Replacement model files rejected; the previous model kept serving");

    static readonly List<PolicyHost> Hosts = [];

    static GrpoMetrics()
    {
        Meter.CreateObservableGauge("grpo.model.generation", ObserveGenerations, "{generation}",
            "Generation of the model each host serves: 1 at start, +1 per reload");
        Meter.CreateObservableGauge("grpo.batching.queue_length", ObserveQueues, "{request}",
            "Requests waiting in each host's queue for a batch");
    }

    static IEnumerable<Measurement<int>> ObserveQueues()
    {
        lock (Hosts)
            return Hosts.Select(h => new Measurement<int>(h.QueueLength, new KeyValuePair<string, object?>("grpo.model.path", h.ModelPath))).ToList();
    }

    static IEnumerable<Measurement<int>> ObserveGenerations()
    {
        lock (Hosts)
            return Hosts.Where(h => h.Current is not null)
                .Select(h => new Measurement<int>(h.Current!.Generation, new KeyValuePair<string, object?>("grpo.model.path", h.ModelPath)))
                .ToList();
    }

    internal static void Track(PolicyHost host) { lock (Hosts) Hosts.Add(host); }
    internal static void Untrack(PolicyHost host) { lock (Hosts) Hosts.Remove(host); }

    /// <summary>Records one inference call of <paramref name="prompts"/> prompts that started at <paramref name="startTimestamp"/>.</summary>
    internal static void RecordInference(long startTimestamp, int prompts)
    {
        InferenceDuration.Record(System.Diagnostics.Stopwatch.GetElapsedTime(startTimestamp).TotalSeconds);
        PromptsScored.Add(prompts);
        BatchSize.Record(prompts);
    }
}
