using System.Collections.Concurrent;
using System.Diagnostics.Metrics;

namespace GrpoPipeline.Inference.Tests;

/// <summary>Every measurement on the <c>GrpoPipeline</c> meter while it lives (the meter is process-wide: use it in non-parallel fixtures).</summary>
sealed class MetricRecorder : IDisposable
{
    readonly MeterListener _listener = new();
    /// <summary>Each measurement with the name of the thread that recorded it (an inference's is the thread that ran it).</summary>
    public ConcurrentQueue<(string Instrument, double Value, KeyValuePair<string, object?>[] Tags, string? Thread)> Measurements { get; } = new();

    public MetricRecorder()
    {
        _listener.InstrumentPublished = (instrument, listener) =>
        {
            if (instrument.Meter.Name == GrpoMetrics.MeterName) listener.EnableMeasurementEvents(instrument);
        };
        _listener.SetMeasurementEventCallback<double>((i, v, tags, _) => Measurements.Enqueue((i.Name, v, tags.ToArray(), Thread.CurrentThread.Name)));
        _listener.SetMeasurementEventCallback<long>((i, v, tags, _) => Measurements.Enqueue((i.Name, v, tags.ToArray(), Thread.CurrentThread.Name)));
        _listener.SetMeasurementEventCallback<int>((i, v, tags, _) => Measurements.Enqueue((i.Name, v, tags.ToArray(), Thread.CurrentThread.Name)));
        _listener.Start();
    }

    public double[] Values(string instrument) => Measurements.Where(m => m.Instrument == instrument).Select(m => m.Value).ToArray();
    public void Observe() => _listener.RecordObservableInstruments();
    public void Dispose() => _listener.Dispose();
}
