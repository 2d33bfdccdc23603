namespace GrpoPipeline.Core;

/// <summary>
/// Rows of tokens of different lengths in one buffer: row <c>i</c> holds <see cref="Lengths"/>[i] tokens at
/// <c>i · Stride</c>, then padding up to the stride. Prompts of a batch and the responses of a rollout both use it,
/// so rewards and evaluation walk plain spans without a copy per row.
/// </summary>
public sealed class TokenRows
{
    /// <summary><paramref name="count"/> empty rows of room <paramref name="stride"/>, every slot set to <paramref name="padding"/>.</summary>
    public TokenRows(int count, int stride, long padding = 0)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(count);
        ArgumentOutOfRangeException.ThrowIfLessThan(stride, 1);
        Count = count;
        Stride = stride;
        Padding = padding;
        Tokens = new long[count * stride];
        if (padding != 0) Tokens.AsSpan().Fill(padding);
        Lengths = new int[count];
    }

    /// <summary>Rows of one length each, from <paramref name="rows"/> (e.g. a fixed task's prompts).</summary>
    public static TokenRows From(IReadOnlyList<long[]> rows, long padding = 0)
    {
        var result = new TokenRows(rows.Count, Math.Max(1, rows.Count == 0 ? 1 : rows.Max(r => r.Length)), padding);
        for (int i = 0; i < rows.Count; i++) result.Set(i, rows[i]);
        return result;
    }

    /// <summary>Number of rows.</summary>
    public int Count { get; }
    /// <summary>Room per row: the longest row the buffer can hold.</summary>
    public int Stride { get; }
    /// <summary>The value in slots past a row's length.</summary>
    public long Padding { get; }
    /// <summary>Row-major [Count, Stride] tokens, padded.</summary>
    public long[] Tokens { get; }
    /// <summary>Each row's length.</summary>
    public int[] Lengths { get; }

    /// <summary>Row <paramref name="i"/>'s tokens (its length, not the stride).</summary>
    public ReadOnlySpan<long> this[int i] => Tokens.AsSpan(i * Stride, Lengths[i]);

    /// <summary>Row <paramref name="i"/> with all its room, for writing; set its length with <see cref="Lengths"/>.</summary>
    public Span<long> Room(int i) => Tokens.AsSpan(i * Stride, Stride);

    /// <summary>Copies <paramref name="row"/> into row <paramref name="i"/> and pads the rest.</summary>
    public void Set(int i, ReadOnlySpan<long> row)
    {
        if (row.Length > Stride) throw new ArgumentException($"a row of {row.Length} tokens does not fit a stride of {Stride}", nameof(row));
        var room = Room(i);
        row.CopyTo(room);
        room[row.Length..].Fill(Padding);
        Lengths[i] = row.Length;
    }

    /// <summary>Each row as its own array.</summary>
    public long[][] ToArrays() => Enumerable.Range(0, Count).Select(i => this[i].ToArray()).ToArray();
}
