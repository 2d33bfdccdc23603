using System.Diagnostics;

namespace GrpoPipeline.Inference.Hosting;

/// <summary>
/// Gathers concurrent greedy requests to a <see cref="PolicyHost"/> into batched inferences (Triton's dynamic batcher,
/// in process). Callers enqueue a prompt and await its answer; <see cref="BatchingOptions.Workers"/> dedicated threads
/// each take up to <see cref="BatchingOptions.MaxBatchSize"/> queued prompts, lease the current model for the batch,
/// and answer them with one <see cref="OnnxPolicy.RespondBatch(IReadOnlyList{long[]})"/>. A reload therefore swaps
/// models between batches: a batch in flight finishes on the model it leased, and the old session is disposed after it.
/// </summary>
/// <remarks>
/// The queue is a linked list under one lock, so a cancelled request leaves it at once (its slot is free again) and
/// the bound counts only requests still waiting. Answers complete asynchronously, so the callers' continuations
/// (serialising an HTTP response) run on the thread pool, not on a worker. A request that finds the queue empty, a
/// batch slot free and the last batch a lone request (and no <see cref="BatchingOptions.MaxWaitMicroseconds"/> to wait)
/// is answered on its caller's thread, so a lone request costs what it did unbatched. Under concurrent load the last
/// batch held several, so requests go through the queue even when it is empty: the worker's wake-up lets the next
/// ones join, where answering inline would run a batch of one (measured for the sorter at 64 connections: batches of
/// 17.5 instead of 10, about 10% more requests per second).
/// </remarks>
sealed class RequestBatcher : IDisposable
{
    readonly PolicyHost _host;
    readonly BatchingOptions _options;
    readonly object _gate = new();
    readonly LinkedList<Pending> _queue = new();
    readonly Thread[] _workers;
    readonly long _maxWaitTicks;
    double _answersPerSecond;          // the recent rate of answers, for Retry-After; written under _gate
    int _running;                      // batches being answered, by workers or inline; at most Workers; under _gate
    int _lastBatchSize;                // requests in the batch answered last; under _gate
    bool _stopping;
    [ThreadStatic] static List<Pending>? t_inlineBatch;
    [ThreadStatic] static List<long[]>? t_inlinePrompts;

    public RequestBatcher(PolicyHost host, BatchingOptions options)
    {
        _host = host;
        _options = options;
        _maxWaitTicks = options.MaxWaitMicroseconds * Stopwatch.Frequency / 1_000_000;
        _workers = new Thread[options.Workers];
        for (int i = 0; i < _workers.Length; i++)
        {
            _workers[i] = new Thread(Work) { IsBackground = true, Name = $"grpo-batcher-{i}" };
            _workers[i].Start();
        }
    }

    /// <summary>Requests waiting for a worker.</summary>
    public int QueueLength { get { lock (_gate) return _queue.Count; } }

    /// <summary>Queues <paramref name="prompt"/> (already copied: the caller must not change it) and returns its answer.</summary>
    /// <returns>The answer; faulted with <see cref="PolicyOverloadedException"/> at once when the queue is full.</returns>
    public Task<HostedResponse> Enqueue(long[] prompt, CancellationToken cancellationToken)
    {
        if (cancellationToken.IsCancellationRequested) return Task.FromCanceled<HostedResponse>(cancellationToken);
        var pending = new Pending(this, prompt, Stopwatch.GetTimestamp());
        // Registered before the request is queued, so no worker can take it while the field is written; a
        // cancellation that fires before it is queued is seen below, under the lock.
        if (cancellationToken.CanBeCanceled)
            pending.Registration = cancellationToken.UnsafeRegister(static (state, token) => ((Pending)state!).Owner.Cancel((Pending)state!, token), pending);
        int refused = -1;   // the queue length that refused the request; -1 when it was queued
        bool inline = false;
        lock (_gate)
        {
            if (_stopping || cancellationToken.IsCancellationRequested || _queue.Count >= _options.MaxQueueLength) refused = _queue.Count;
            else if (_queue.Count == 0 && _running < _workers.Length && _maxWaitTicks == 0 && _lastBatchSize <= 1)
            {
                // Nothing to batch with, a batch slot free and no sign of concurrent requests: answer on the caller's
                // thread, sparing a lone request two thread hops. Requests that arrive meanwhile queue for a worker.
                _running++;
                inline = true;
            }
            else
            {
                pending.Node = _queue.AddLast(pending);
                if (_queue.Count == 1 || _queue.Count == _options.MaxBatchSize) Monitor.Pulse(_gate);
            }
        }
        if (inline)
        {
            pending.Registration.Dispose();
            var batch = t_inlineBatch ??= new List<Pending>(1);
            var prompts = t_inlinePrompts ??= new List<long[]>(1);
            batch.Add(pending);
            try { Answer(batch, prompts); }
            finally
            {
                batch.Clear();
                prompts.Clear();
                Finished(1);
            }
            return pending.Answer.Task;
        }
        if (refused >= 0)
        {
            pending.Registration.Dispose();   // outside the lock: it waits for a callback that may be waiting for the lock
            if (cancellationToken.IsCancellationRequested) return Task.FromCanceled<HostedResponse>(cancellationToken);
            if (_stopping) return Task.FromException<HostedResponse>(PolicyHost.NoModelException(_host.ModelPath));
            GrpoMetrics.RequestsOverloaded.Add(1);
            return Task.FromException<HostedResponse>(new PolicyOverloadedException(refused, RetryAfter(refused)));
        }
        return pending.Answer.Task;
    }

    /// <summary>Removes a request that is still queued; one already in a batch is answered, and the answer dropped.</summary>
    void Cancel(Pending pending, CancellationToken token)
    {
        lock (_gate)
        {
            if (pending.Node is null) return;
            _queue.Remove(pending.Node);
            pending.Node = null;
        }
        pending.Answer.TrySetCanceled(token);
    }

    void Work()
    {
        var batch = new List<Pending>(_options.MaxBatchSize);
        var prompts = new List<long[]>(_options.MaxBatchSize);
        while (TakeBatch(batch))
        {
            try { Answer(batch, prompts); }
            catch (Exception e)
            {
                // A fault outside inference (a task's prompt check, say) fails this batch, not the worker thread,
                // whose death would take the process with it.
                foreach (var pending in batch) pending.Answer.TrySetException(e);
            }
            finally
            {
                int size = batch.Count;
                batch.Clear();
                prompts.Clear();
                Finished(size);
            }
        }
    }

    /// <summary>Frees a batch slot and wakes a worker for what queued meanwhile.</summary>
    void Finished(int batchSize)
    {
        lock (_gate)
        {
            _running--;
            _lastBatchSize = batchSize;
            if (_queue.Count > 0) Monitor.Pulse(_gate);
        }
    }

    /// <summary>Waits for requests and takes up to a batch of them; false once stopping and the queue is drained.</summary>
    bool TakeBatch(List<Pending> batch)
    {
        lock (_gate)
        {
            do
            {
                while (_queue.Count == 0 || _running >= _workers.Length)
                {
                    if (_stopping && _queue.Count == 0) return false;
                    Monitor.Wait(_gate);
                }
                _running++;                   // the slot is this worker's while it waits for the batch to fill
                if (_maxWaitTicks > 0) WaitToFill();
                if (_queue.Count == 0) _running--;
            } while (_queue.Count == 0);   // every request cancelled during the wait: nothing to run
            while (batch.Count < _options.MaxBatchSize && _queue.First is { } node)
            {
                _queue.RemoveFirst();
                node.Value.Node = null;
                batch.Add(node.Value);
            }
            // Another worker may run the rest at once instead of waiting for this batch.
            if (_queue.Count > 0) Monitor.Pulse(_gate);
        }
        return true;
    }

    /// <summary>
    /// Called under the lock with a request queued: gives later requests until the oldest has waited
    /// <see cref="BatchingOptions.MaxWaitMicroseconds"/> to fill the batch. Millisecond waits block; the rest yields the
    /// core, which is finer than a timed wait and leaves it to the threads that are bringing requests.
    /// </summary>
    void WaitToFill()
    {
        long deadline = _queue.First!.Value.Enqueued + _maxWaitTicks;
        while (_queue.Count is > 0 and var n && n < _options.MaxBatchSize && !_stopping)
        {
            long left = deadline - Stopwatch.GetTimestamp();
            if (left <= 0) return;
            if (left * 1000 >= 2 * Stopwatch.Frequency) Monitor.Wait(_gate, (int)(left * 1000 / Stopwatch.Frequency) - 1);
            else
            {
                Monitor.Exit(_gate);
                try { Thread.Yield(); }
                finally { Monitor.Enter(_gate); }
            }
        }
    }

    void Answer(List<Pending> batch, List<long[]> prompts)
    {
        long started = Stopwatch.GetTimestamp();
        foreach (var pending in batch)
        {
            pending.Registration.Dispose();   // a cancellation now finds the request gone from the queue
            GrpoMetrics.QueueTime.Record(Stopwatch.GetElapsedTime(pending.Enqueued, started).TotalSeconds);
        }
        if (!_host.TryAcquire(out var lease))
        {
            var noModel = PolicyHost.NoModelException(_host.ModelPath);
            foreach (var pending in batch) pending.Answer.TrySetException(noModel);
            return;
        }
        using (lease)
        {
            var policy = lease.Policy;
            var contract = policy.Contract;
            // Checked against the leased model: the caller checked the model current when it queued, and a reload
            // since may take other prompts. Such a request fails alone; the rest of the batch is answered.
            for (int i = 0; i < batch.Count; i++)
            {
                if (contract.Problem(batch[i].Prompt) is { } problem)
                {
                    batch[i].Answer.TrySetException(new ArgumentException(problem, "prompt"));
                    batch.RemoveAt(i--);
                }
                else prompts.Add(batch[i].Prompt);
            }
            if (batch.Count == 0) return;
            long[][] responses;
            try { responses = policy.RespondValidated(prompts); }
            catch (Exception e)
            {
                foreach (var pending in batch) pending.Answer.TrySetException(e);
                return;
            }
            for (int i = 0; i < batch.Count; i++) batch[i].Answer.TrySetResult(new HostedResponse(responses[i], contract, lease.Model.Generation));
        }
        double seconds = Stopwatch.GetElapsedTime(started).TotalSeconds;
        lock (_gate) _answersPerSecond = 0.8 * _answersPerSecond + 0.2 * (batch.Count / Math.Max(seconds, 1e-6));
    }

    /// <summary>When a queue of <paramref name="waiting"/> will have drained at the recent rate, in whole seconds, at least one.</summary>
    TimeSpan RetryAfter(int waiting) =>
        TimeSpan.FromSeconds(Math.Max(1, Math.Ceiling(_answersPerSecond > 0 ? waiting / _answersPerSecond : 1)));

    /// <summary>Answers every request already queued, refuses new ones, and waits for the workers to finish.</summary>
    public void Dispose()
    {
        lock (_gate)
        {
            if (_stopping) return;
            _stopping = true;
            Monitor.PulseAll(_gate);
        }
        foreach (var worker in _workers)
            if (worker != Thread.CurrentThread) worker.Join();
    }

    sealed class Pending(RequestBatcher owner, long[] prompt, long enqueued)
    {
        public readonly RequestBatcher Owner = owner;
        public readonly long[] Prompt = prompt;
        public readonly long Enqueued = enqueued;
        public readonly TaskCompletionSource<HostedResponse> Answer = new(TaskCreationOptions.RunContinuationsAsynchronously);
        public LinkedListNode<Pending>? Node;          // set while queued; under the batcher's lock
        public CancellationTokenRegistration Registration;
    }
}

/// <summary>A hosted policy's greedy answer and the model that gave it.</summary>
/// <param name="Response">The greedy response (a decoder's without its EOS).</param>
/// <param name="Contract">The contract of the model that answered: score and describe the response with it, since a reload may have changed the current model since.</param>
/// <param name="Generation">The answering model's generation (<see cref="LoadedModel.Generation"/>).</param>
public readonly record struct HostedResponse(long[] Response, PolicyContract Contract, int Generation);
