using TorchSharp;

// The one file that makes TorchSharp Scalars: every other file gets them from here (build/BannedSymbols.txt).
#pragma warning disable RS0030

namespace GrpoPipeline.Training;

/// <summary>
/// Process-wide Scalars, and the reason every Scalar in the Training library has an owner.
/// </summary>
/// <remarks>
/// TorchSharp hands a Scalar's native handle to libtorch without keeping the managed <see cref="Scalar"/> alive for the
/// call. A Scalar that nothing else references (the temporary of an implicit conversion such as <c>t * 0.5</c> or
/// <c>t.clamp_min(0)</c>, or one TorchSharp makes itself inside <c>a + b</c> or <c>Adam.step</c>) can therefore be
/// finalized by a collection on any other thread while libtorch still reads it: a garbage value or a crash, at random.
/// So each Scalar lives as long as its owner: these constants live as long as the process, a <see cref="ScalarScope"/>'s
/// as long as the scope. The analyzer (build/BannedSymbols.txt, generated from TorchSharp's IL) rejects the rest.
/// </remarks>
public static class Scalars
{
    /// <summary>0, an integral Scalar (as the literal <c>0</c> was).</summary>
    public static readonly Scalar Zero = 0L.ToScalar();

    /// <summary>1, an integral Scalar: also the α of <c>a.add(b, One)</c>, which is <c>a + b</c>.</summary>
    public static readonly Scalar One = 1L.ToScalar();

    /// <summary>2, an integral Scalar: <c>x.pow(Two)</c> is <c>x.square()</c>.</summary>
    public static readonly Scalar Two = 2L.ToScalar();

    /// <summary>0.5.</summary>
    public static readonly Scalar Half = 0.5.ToScalar();
}

/// <summary>
/// Owns the Scalars of one computation, for values known only at run time (a clip range from the config, a count):
/// <c>using var s = new ScalarScope(); ratio.clamp(s[1 - clipLow], s[1 + clipHigh])</c>. Each Scalar lives until the
/// scope is disposed, so no native call can outlive it.
/// </summary>
public sealed class ScalarScope : IDisposable
{
    readonly List<Scalar> _owned = [];
    bool _disposed;

    /// <summary>A floating-point Scalar owned by this scope.</summary>
    public Scalar this[double value] => Own(value.ToScalar());

    /// <summary>An integral Scalar owned by this scope.</summary>
    public Scalar this[long value] => Own(value.ToScalar());

    Scalar Own(Scalar scalar)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        _owned.Add(scalar);
        return scalar;
    }

    /// <inheritdoc/>
    /// <remarks>
    /// Disposes every Scalar the scope owns; the indexers then throw <see cref="ObjectDisposedException"/>.
    /// </remarks>
    public void Dispose()
    {
        _disposed = true;
        foreach (var scalar in _owned) scalar.Dispose();
        _owned.Clear();
    }
}
