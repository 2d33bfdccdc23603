using static TorchSharp.torch;

namespace GrpoPipeline.Training.Policies;

/// <summary>One layer's keys and values, [N, H, capacity, d/H], allocated once per decode.</summary>
public sealed record LayerCache(Tensor Keys, Tensor Values);

/// <summary>
/// The KV cache of a decode: every layer's keys and values for N rows and up to <see cref="Capacity"/> columns,
/// preallocated so a step writes one column in place and allocates nothing per token. <see cref="KeyValid"/> marks the
/// columns that hold a real token (left padding and a finished row's padding are false), <see cref="Length"/> how many
/// columns are filled.
/// </summary>
public sealed class KvCache : IDisposable
{
    /// <summary>An empty cache.</summary>
    public KvCache(int layers, long rows, long heads, long capacity, long headDim)
    {
        Layers = Enumerable.Range(0, layers)
            .Select(_ => new LayerCache(zeros(rows, heads, capacity, headDim), zeros(rows, heads, capacity, headDim))).ToArray();
        KeyValid = zeros(rows, capacity, dtype: ScalarType.Bool);
        Capacity = capacity;
    }

    KvCache(LayerCache[] layers, Tensor keyValid, long capacity, long length) =>
        (Layers, KeyValid, Capacity, Length) = (layers, keyValid, capacity, length);

    /// <summary>Per layer keys and values.</summary>
    public LayerCache[] Layers { get; }
    /// <summary>[N, capacity]: true where a column holds a real token.</summary>
    public Tensor KeyValid { get; }
    /// <summary>Columns allocated.</summary>
    public long Capacity { get; }
    /// <summary>Columns filled so far.</summary>
    public long Length { get; internal set; }
    /// <summary>Rows.</summary>
    public long Rows => KeyValid.shape[0];

    /// <summary>
    /// A cache with each row repeated <paramref name="times"/> times in a row (row b becomes rows b·times ..
    /// b·times+times−1): the G responses of a prompt share its prefill.
    /// </summary>
    public KvCache Repeat(int times) => new(
        Layers.Select(l => new LayerCache(l.Keys.repeat_interleave(times, 0), l.Values.repeat_interleave(times, 0))).ToArray(),
        KeyValid.repeat_interleave(times, 0), Capacity, Length);

    /// <inheritdoc/>
    /// <remarks>
    /// Disposes every layer's keys and values and <see cref="KeyValid"/>. A cache made by <see cref="Repeat"/> holds its
    /// own tensors and is disposed on its own.
    /// </remarks>
    public void Dispose()
    {
        foreach (var layer in Layers) { layer.Keys.Dispose(); layer.Values.Dispose(); }
        KeyValid.Dispose();
    }
}
