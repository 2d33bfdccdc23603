namespace GrpoPipeline.Inference.Hosting;

/// <summary>
/// One loaded <see cref="OnnxPolicy"/> and the number of holders using it: the <see cref="PolicyHost"/> (while it
/// is current) and every request with a <see cref="PolicyLease"/>. The policy is disposed when the count reaches zero,
/// so a swapped-out model finishes its in-flight requests before its native session goes away.
/// </summary>
public sealed class LoadedModel
{
    int _holders = 1;   // the host's own reference, dropped when the model is swapped out

    internal LoadedModel(OnnxPolicy policy, int generation, DateTimeOffset loadedAt)
    {
        Policy = policy;
        Generation = generation;
        LoadedAt = loadedAt;
    }

    /// <summary>The policy; valid only while a lease on this model is held.</summary>
    public OnnxPolicy Policy { get; }
    /// <summary>1 for the model loaded at start, then +1 for each successful reload.</summary>
    public int Generation { get; }
    /// <summary>When the model finished loading and warming up.</summary>
    public DateTimeOffset LoadedAt { get; }
    /// <summary>True once the last holder let go and the session was disposed.</summary>
    public bool IsDisposed => Volatile.Read(ref _holders) == 0;

    /// <summary>Adds a holder unless the model is already disposed (then the caller must read the current model again).</summary>
    internal bool TryAddHolder()
    {
        int holders = Volatile.Read(ref _holders);
        while (holders > 0)
        {
            int seen = Interlocked.CompareExchange(ref _holders, holders + 1, holders);
            if (seen == holders) return true;
            holders = seen;
        }
        return false;
    }

    internal void RemoveHolder()
    {
        int holders = Interlocked.Decrement(ref _holders);
        if (holders == 0) Policy.Dispose();
        else if (holders < 0) throw new InvalidOperationException("a model lease was released twice");
    }
}

/// <summary>
/// A request's hold on the model that was current when it started; dispose it when the request is done.
/// A struct so taking one costs two interlocked operations and no allocation.
/// </summary>
public readonly struct PolicyLease : IDisposable
{
    internal PolicyLease(LoadedModel model) => Model = model;

    /// <summary>The leased model.</summary>
    public LoadedModel Model { get; }
    /// <summary>The leased model's policy.</summary>
    public OnnxPolicy Policy => Model.Policy;

    /// <summary>Releases the hold; the model is disposed when it was swapped out and this was its last holder.</summary>
    public void Dispose() => Model?.RemoveHolder();
}
