using System.Text;
using GrpoPipeline.Core;
using System.Text.Json;

namespace GrpoPipeline.Training;

/// <summary>One epoch's metrics under namespaced keys (<c>reward/mean</c>, <c>loss/kl</c>, …), in insertion order.</summary>
public sealed class EpochMetrics(int epoch)
{
    readonly List<KeyValuePair<string, double>> _values = [];

    /// <summary>The epoch, counted from 1.</summary>
    public int Epoch { get; } = epoch;
    /// <summary>Every metric, in the order it was added.</summary>
    public IReadOnlyList<KeyValuePair<string, double>> Values => _values;

    /// <summary>The first value added under <paramref name="key"/>.</summary>
    /// <exception cref="InvalidOperationException">No value has that key.</exception>
    public double this[string key] => _values.First(kv => kv.Key == key).Value;
    /// <summary>The first value added under <paramref name="key"/>, if any.</summary>
    /// <param name="key">The metric's key, e.g. <c>reward/mean</c>.</param>
    /// <param name="value">The value, or NaN when the key is absent.</param>
    /// <returns>True when the key is present.</returns>
    public bool TryGet(string key, out double value)
    {
        foreach (var kv in _values)
            if (kv.Key == key) { value = kv.Value; return true; }
        value = double.NaN;
        return false;
    }

    /// <summary>Appends a metric; non-finite values are kept (the JSON line writes them as null).</summary>
    public void Add(string key, double value) => _values.Add(new(key, value));

    /// <summary>The JSONL line: <c>{"epoch":N,"reward/mean":…,…}</c>, numbers in shortest round-trip form.</summary>
    public string ToJsonLine()
    {
        using var buffer = new MemoryStream();
        using (var json = new Utf8JsonWriter(buffer))
        {
            json.WriteStartObject();
            json.WriteNumber(MetricKeys.Epoch, Epoch);
            foreach (var (key, value) in _values)
            {
                if (double.IsFinite(value)) json.WriteNumber(key, value);
                else json.WriteNull(key);   // JSON has no NaN/Inf; a diverged loss shows up as null
            }
            json.WriteEndObject();
        }
        return Encoding.UTF8.GetString(buffer.ToArray());
    }
}
