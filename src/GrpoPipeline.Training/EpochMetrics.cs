using System.Text;
using GrpoPipeline.Core;
using System.Text.Json;

namespace GrpoPipeline.Training;

/// <summary>One epoch's metrics under namespaced keys (<c>reward/mean</c>, <c>loss/kl</c>, …), in insertion order.</summary>
public sealed class EpochMetrics(int epoch)
{
    readonly List<KeyValuePair<string, double>> _values = [];

    public int Epoch { get; } = epoch;
    public IReadOnlyList<KeyValuePair<string, double>> Values => _values;

    public double this[string key] => _values.First(kv => kv.Key == key).Value;
    public bool TryGet(string key, out double value)
    {
        foreach (var kv in _values)
            if (kv.Key == key) { value = kv.Value; return true; }
        value = double.NaN;
        return false;
    }

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
