using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace GrpoPipeline.Inference.Hosting;

/// <summary>
/// Owns the model being served. Requests take a <see cref="PolicyLease"/> on the current model; a reload loads and
/// validates the new file first, then swaps it in with one atomic exchange. The old model is disposed when its last
/// lease is released, so no request sees a disposed session and none fails during a swap. Greedy requests made through
/// <see cref="RespondAsync"/> (and the registered <see cref="IPolicy"/>'s <c>Respond</c>) are gathered into batched
/// inferences (<see cref="BatchingOptions"/>); each batch leases the model that is current when it starts.
/// </summary>
public sealed partial class PolicyHost : IDisposable
{
    readonly PolicyModelOptions _options;
    readonly ILogger<PolicyHost> _logger;
    readonly TimeProvider _time;
    readonly Lock _reloadGate = new();
    readonly RequestBatcher? _batcher;
    LoadedModel? _current;
    int _generation;
    int _rejections;
    ReloadRejection? _lastRejection;
    bool _disposed;

    /// <summary>A host for the model of <paramref name="options"/>; it loads nothing until <see cref="LoadInitial"/>.</summary>
    public PolicyHost(IOptions<PolicyModelOptions> options, ILogger<PolicyHost> logger, TimeProvider? time = null)
    {
        _options = options.Value;
        _logger = logger;
        _time = time ?? TimeProvider.System;
        ModelPath = _options.FullModelPath;
        if (_options.Batching.Enabled) _batcher = new RequestBatcher(this, _options.Batching);
        GrpoMetrics.Track(this);
    }

    /// <summary>Absolute path of the model file being served and watched.</summary>
    public string ModelPath { get; }
    /// <summary>The model new requests get, or null before the first load and after shutdown.</summary>
    public LoadedModel? Current => Volatile.Read(ref _current);
    /// <summary>True when a model is loaded and requests can be served.</summary>
    public bool IsReady => Current is not null;
    /// <summary>Successful reloads since start (the first load is not one).</summary>
    public int Reloads => Math.Max(0, Volatile.Read(ref _generation) - 1);
    /// <summary>Replacement files that were rejected since start.</summary>
    public int Rejections => Volatile.Read(ref _rejections);
    /// <summary>The most recent rejected replacement, if any.</summary>
    public ReloadRejection? LastRejection => Volatile.Read(ref _lastRejection);

    /// <summary>Requests waiting for a batch (always 0 with batching off).</summary>
    public int QueueLength => _batcher?.QueueLength ?? 0;

    /// <summary>
    /// The greedy response to <paramref name="prompt"/> from the current model, batched with concurrent requests
    /// (or answered on the caller's thread with batching off): the same answer the model gives the prompt alone.
    /// The prompt is copied, so the caller may reuse its memory at once.
    /// </summary>
    /// <exception cref="ArgumentException">The answering model does not take the prompt.</exception>
    /// <exception cref="PolicyOverloadedException">The queue is full (<see cref="BatchingOptions.MaxQueueLength"/>).</exception>
    /// <exception cref="InvalidOperationException">No model is loaded (before start, after shutdown).</exception>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> fired while the request was queued.</exception>
    public Task<HostedResponse> RespondAsync(ReadOnlyMemory<long> prompt, CancellationToken cancellationToken = default)
    {
        if (_batcher is not null && !Volatile.Read(ref _disposed)) return _batcher.Enqueue(prompt.ToArray(), cancellationToken);
        if (!TryAcquire(out var lease)) return Task.FromException<HostedResponse>(NoModelException(ModelPath));
        using (lease)
            return Task.FromResult(new HostedResponse(lease.Policy.Respond(prompt.Span), lease.Policy.Contract, lease.Model.Generation));
    }

    internal static InvalidOperationException NoModelException(string path) =>
        new($"no model is loaded from '{path}': the host loads it when it starts, and drops it when it stops");

    /// <summary>Loads the model at start. Throws (and so stops the host) when the file cannot be served.</summary>
    public void LoadInitial()
    {
        lock (_reloadGate)
        {
            if (Current is not null) return;
            var model = Load();
            Volatile.Write(ref _current, model);
            LogLoaded(model.Generation, ModelPath, Describe(model));
        }
    }

    /// <summary>
    /// Loads the file again and swaps it in. A file that does not load or breaks the contract is rejected and
    /// logged, and the current model keeps serving. Returns whether the new model was swapped in.
    /// </summary>
    public bool TryReload()
    {
        lock (_reloadGate)
        {
            if (_disposed) return false;
            LoadedModel model;
            try { model = Load(); }
            catch (Exception e)
            {
                // Any failure of a replacement file (contract, I/O, ORT) must leave the serving model alone.
                Interlocked.Increment(ref _rejections);
                GrpoMetrics.ModelReloadsRejected.Add(1);
                Volatile.Write(ref _lastRejection, new ReloadRejection(_time.GetUtcNow(), e.Message));
                LogRejected(e, ModelPath, e.Message);
                return false;
            }
            var old = Interlocked.Exchange(ref _current, model);
            GrpoMetrics.ModelReloads.Add(1);
            LogSwapped(model.Generation, ModelPath, Describe(model));
            old?.RemoveHolder();
            return true;
        }
    }

    /// <summary>A lease on the current model, or false when none is loaded.</summary>
    public bool TryAcquire(out PolicyLease lease)
    {
        while (true)
        {
            var model = Volatile.Read(ref _current);
            if (model is null)
            {
                lease = default;
                return false;
            }
            // A swap can retire this model between the read and the add; then the current one is the new model.
            if (model.TryAddHolder())
            {
                lease = new PolicyLease(model);
                return true;
            }
        }
    }

    // Called under _reloadGate: generations are assigned in order and only to models that loaded.
    LoadedModel Load()
    {
        var policy = OnnxPolicy.Load(ModelPath, new OnnxPolicyOptions
        {
            IntraOpThreads = _options.IntraOpThreads,
            AllowSpinning = false,
            WarmUp = true,
        });
        int generation = Volatile.Read(ref _generation) + 1;
        Volatile.Write(ref _generation, generation);
        return new LoadedModel(policy, generation, _time.GetUtcNow());
    }

    /// <summary>
    /// Answers the requests already queued, then drops the host's hold on the current model; it is disposed once
    /// in-flight requests finish.
    /// </summary>
    public void Dispose()
    {
        _batcher?.Dispose();
        lock (_reloadGate)
        {
            if (_disposed) return;
            Volatile.Write(ref _disposed, true);
            GrpoMetrics.Untrack(this);
            Interlocked.Exchange(ref _current, null)?.RemoveHolder();
        }
    }

    static string Describe(LoadedModel model)
    {
        var c = model.Policy.Contract;
        return $"{c.Version}, prompt length {c.Prompts.LengthRange}, V={c.VocabSize}, policy={c.PolicyKind}, run={c.RunName}, epoch={c.Epoch}";
    }

    [LoggerMessage(EventId = 1, Level = LogLevel.Information, Message = "Model {Generation} loaded from {Path}: {Model}")]
    partial void LogLoaded(int generation, string path, string model);

    [LoggerMessage(EventId = 2, Level = LogLevel.Information,
        Message = "Model {Generation} swapped in from {Path}: {Model}; the previous model is disposed after its in-flight requests")]
    partial void LogSwapped(int generation, string path, string model);

    [LoggerMessage(EventId = 3, Level = LogLevel.Error,
        Message = "Rejected the replacement model at {Path}; still serving the previous model. {Reason}")]
    partial void LogRejected(Exception exception, string path, string reason);
}

/// <summary>A replacement model file that was rejected: when, and why.</summary>
public sealed record ReloadRejection(DateTimeOffset At, string Reason);
