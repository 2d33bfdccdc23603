using System.Collections;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace GrpoPipeline.Core;

/// <summary>
/// The config's <c>rewards</c>: a weight per reward component, by the component's name
/// (<c>{"sortDistance": 1, "exact": 0}</c>); a component it does not name keeps its task's default weight. The training
/// reward is the weighted sum. <see cref="VerifiableTask.Weights"/> checks the names against the task.
/// </summary>
[JsonConverter(typeof(RewardWeightsConverter))]
public sealed class RewardWeights : IReadOnlyDictionary<string, double>, IEquatable<RewardWeights>
{
    readonly List<KeyValuePair<string, double>> _entries = [];

    /// <summary>No weights: every component at its default.</summary>
    public RewardWeights() { }

    /// <summary>The weights of <paramref name="entries"/>, in that order.</summary>
    public RewardWeights(IEnumerable<KeyValuePair<string, double>> entries)
    {
        foreach (var (name, weight) in entries) Add(name, weight);
    }

    /// <summary>Sets a weight while building (collection initializers); a name given twice is an error.</summary>
    public void Add(string name, double weight)
    {
        if (ContainsKey(name)) throw new ArgumentException($"rewards.{name} is given twice", nameof(name));
        _entries.Add(new(name, weight));
    }

    /// <inheritdoc/>
    public double this[string key] => TryGetValue(key, out var w) ? w : throw new KeyNotFoundException($"rewards.{key} is not set");
    /// <inheritdoc/>
    public IEnumerable<string> Keys => _entries.Select(e => e.Key);
    /// <inheritdoc/>
    public IEnumerable<double> Values => _entries.Select(e => e.Value);
    /// <inheritdoc/>
    public int Count => _entries.Count;
    /// <inheritdoc/>
    public bool ContainsKey(string key) => _entries.Any(e => e.Key == key);

    /// <inheritdoc/>
    public bool TryGetValue(string key, out double value)
    {
        foreach (var e in _entries)
            if (e.Key == key) { value = e.Value; return true; }
        value = 0;
        return false;
    }

    /// <inheritdoc/>
    public IEnumerator<KeyValuePair<string, double>> GetEnumerator() => _entries.GetEnumerator();
    IEnumerator IEnumerable.GetEnumerator() => GetEnumerator();

    /// <inheritdoc/>
    public bool Equals(RewardWeights? other) => other is not null && _entries.SequenceEqual(other._entries);
    /// <inheritdoc/>
    public override bool Equals(object? obj) => Equals(obj as RewardWeights);
    /// <inheritdoc/>
    public override int GetHashCode() => _entries.Aggregate(0, (h, e) => HashCode.Combine(h, e.Key, e.Value));
}

/// <summary>A JSON object of numbers, in order; anything else is an error naming the key.</summary>
sealed class RewardWeightsConverter : JsonConverter<RewardWeights>
{
    public override RewardWeights Read(ref Utf8JsonReader reader, Type type, JsonSerializerOptions options)
    {
        if (reader.TokenType != JsonTokenType.StartObject) throw new JsonException("rewards must be an object of weights by component name");
        var weights = new RewardWeights();
        while (reader.Read() && reader.TokenType != JsonTokenType.EndObject)
        {
            var name = reader.GetString()!;
            reader.Read();
            if (reader.TokenType != JsonTokenType.Number) throw new JsonException($"rewards.{name} must be a number");
            if (weights.ContainsKey(name)) throw new JsonException($"rewards.{name} is given twice");
            weights.Add(name, reader.GetDouble());
        }
        return weights;
    }

    public override void Write(Utf8JsonWriter writer, RewardWeights value, JsonSerializerOptions options)
    {
        writer.WriteStartObject();
        foreach (var (name, weight) in value) writer.WriteNumber(name, weight);
        writer.WriteEndObject();
    }
}
