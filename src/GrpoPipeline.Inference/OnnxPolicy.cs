using System.Diagnostics;
using GrpoPipeline.Core;
using Microsoft.ML.OnnxRuntime;

namespace GrpoPipeline.Inference;

/// <summary>
/// A GRPO-trained policy exported to ONNX, for any task: a factorised policy (contract <c>factorised/1</c>, prompts
/// of one length L, answered in one run, one token per prompt token) or an autoregressive one (<c>decoder/1</c>,
/// prompts of any length in minLength..maxLength, decoded token by token with a KV cache, batches of mixed lengths in
/// one loop). <see cref="Load"/> opens either and <see cref="Contract"/> says which it found, and which task (a
/// registered task is rebuilt from the model's metadata, for its prompt check and rewards). Load it once and share it:
/// every method is safe to call from many threads at once. Dispose it to release the native session.
/// </summary>
/// <example>
/// <code>
/// using var policy = OnnxPolicy.Load("models/seed.onnx");
/// long[] response = policy.Respond([3, 1, 2]);          // [1, 2, 3] from a sorting model
/// RewardScore? rewards = policy.Score([3, 1, 2], response);
/// </code>
/// </example>
public sealed class OnnxPolicy : IPolicy, IDisposable
{
    static readonly string[] InputNames = [OnnxContract.PromptsInput];
    static readonly string[] ResponseOnly = [OnnxContract.ResponseOutput];
    static readonly string[] LogitsOnly = [OnnxContract.LogitsOutput];

    readonly InferenceSession _session;
    readonly SessionOptions _sessionOptions;
    readonly RunOptions _runOptions = new();
    readonly DecoderRunner? _decoder;
    volatile bool _disposed;

    OnnxPolicy(InferenceSession session, SessionOptions sessionOptions, PolicyContract contract)
    {
        _session = session;
        _sessionOptions = sessionOptions;
        Contract = contract;
        PromptLength = contract.Prompts.MaxLength;
        if (contract.IsDecoder) _decoder = new DecoderRunner(session, _runOptions, contract);
    }

    /// <inheritdoc />
    public PolicyContract Contract { get; }
    /// <summary>The longest prompt: L, the only length, for a factorised policy; maxLength for a decoder.</summary>
    public int PromptLength { get; }
    /// <summary>Vocabulary size V: tokens are 0..V-1.</summary>
    public int VocabSize => Contract.VocabSize;

    /// <summary>
    /// Opens the model and checks it against its contract (names, element types, dimensions, and the metadata that
    /// fixes them).
    /// </summary>
    /// <exception cref="FileNotFoundException">No file at <paramref name="path"/>.</exception>
    /// <exception cref="OnnxContractException">Not an ONNX model, or one that breaks the contract; the message says
    /// what was expected and what was found.</exception>
    public static OnnxPolicy Load(string path, OnnxPolicyOptions? options = null)
    {
        options ??= OnnxPolicyOptions.Default;
        if (!File.Exists(path)) throw new FileNotFoundException($"no ONNX model at '{path}'", path);
        var sessionOptions = new SessionOptions
        {
            IntraOpNumThreads = options.IntraOpThreads,
            InterOpNumThreads = 1,
            ExecutionMode = ExecutionMode.ORT_SEQUENTIAL,
            GraphOptimizationLevel = GraphOptimizationLevel.ORT_ENABLE_ALL,
        };
        sessionOptions.AddSessionConfigEntry("session.intra_op.allow_spinning", options.AllowSpinning ? "1" : "0");
        InferenceSession session;
        try { session = new InferenceSession(path, sessionOptions); }
        catch (OnnxRuntimeException e)
        {
            sessionOptions.Dispose();
            throw new OnnxContractException($"'{path}' is not a loadable ONNX model: {e.Message}", e);
        }
        try
        {
            var policy = new OnnxPolicy(session, sessionOptions, ContractCheck.Validate(session, path));
            if (options.WarmUp) policy.WarmUp();
            return policy;
        }
        catch
        {
            session.Dispose();
            sessionOptions.Dispose();
            throw;
        }
    }

    /// <summary>
    /// One inference on a prompt of zeros, so the first caller does not pay for ONNX Runtime's lazy initialisation; not
    /// checked against the task (it need not be one of its prompts) and not counted in the metrics.
    /// </summary>
    void WarmUp()
    {
        var zeros = new long[Contract.Prompts.MinLength];
        if (_decoder is not null) Decode([zeros], 0, null);
        else Run(zeros, 1, ResponseOnly).Dispose();
    }

    /// <inheritdoc />
    public long[] Respond(ReadOnlySpan<long> prompt)
    {
        Validate(prompt, 0);
        long start = Stopwatch.GetTimestamp();
        long[] response;
        if (_decoder is not null) response = Decode([prompt.ToArray()], 0, null)[0];
        else
        {
            using var outputs = Run(prompt.ToArray(), 1, ResponseOnly);
            response = outputs[0].GetTensorDataAsSpan<long>().ToArray();
        }
        GrpoMetrics.RecordInference(start, 1);
        return response;
    }

    /// <inheritdoc />
    public long[][] RespondBatch(IReadOnlyList<long[]> prompts)
    {
        CheckBatch(prompts);
        return RespondValidated(prompts);
    }

    /// <summary><see cref="RespondBatch(IReadOnlyList{long[]})"/> of prompts the caller already checked against <see cref="Contract"/>.</summary>
    internal long[][] RespondValidated(IReadOnlyList<long[]> prompts)
    {
        long start = Stopwatch.GetTimestamp();
        long[][] result;
        if (_decoder is not null) result = Decode(prompts, 0, null);
        else
        {
            using var outputs = Run(Flat(prompts), prompts.Count, ResponseOnly);
            var responses = outputs[0].GetTensorDataAsSpan<long>();
            result = new long[prompts.Count][];
            for (int b = 0; b < result.Length; b++) result[b] = responses.Slice(b * PromptLength, PromptLength).ToArray();
        }
        GrpoMetrics.RecordInference(start, prompts.Count);
        return result;
    }

    /// <summary>
    /// Greedy responses to a batch given row-major: <paramref name="prompts"/> is [n, L] and <paramref name="responses"/>
    /// receives [n, L]. No per-prompt arrays: the fastest way to answer many prompts with a <c>factorised/1</c> model.
    /// </summary>
    /// <exception cref="NotSupportedException">A <c>decoder/1</c> model, whose responses vary in length.</exception>
    public void RespondBatch(ReadOnlySpan<long> prompts, Span<long> responses)
    {
        RequireFactorised(nameof(RespondBatch) + "(ReadOnlySpan<long>, Span<long>)");
        if (prompts.Length == 0 || prompts.Length % PromptLength != 0)
            throw new ArgumentException($"expected a non-empty multiple of {PromptLength} tokens (rows of length L), found {prompts.Length}", nameof(prompts));
        if (responses.Length != prompts.Length)
            throw new ArgumentException($"responses has room for {responses.Length} tokens; {prompts.Length} are needed", nameof(responses));
        int rows = prompts.Length / PromptLength;
        for (int b = 0; b < rows; b++) Validate(prompts.Slice(b * PromptLength, PromptLength), b, rows > 1);
        long start = Stopwatch.GetTimestamp();
        using var outputs = Run(prompts.ToArray(), rows, ResponseOnly);
        outputs[0].GetTensorDataAsSpan<long>().CopyTo(responses);
        GrpoMetrics.RecordInference(start, rows);
    }

    /// <summary>Logits of one prompt, row-major [L, V] (<c>factorised/1</c> only).</summary>
    /// <exception cref="NotSupportedException">A <c>decoder/1</c> model: its logits depend on the tokens decoded so far.</exception>
    public float[] Logits(ReadOnlySpan<long> prompt)
    {
        RequireFactorised(nameof(Logits));
        Validate(prompt, 0);
        using var outputs = Run(prompt.ToArray(), 1, LogitsOnly);
        return outputs[0].GetTensorDataAsSpan<float>().ToArray();
    }

    /// <summary>Logits of many prompts, row-major [batch, L, V] (<c>factorised/1</c> only).</summary>
    /// <exception cref="NotSupportedException">A <c>decoder/1</c> model: its logits depend on the tokens decoded so far.</exception>
    public float[] LogitsBatch(IReadOnlyList<long[]> prompts)
    {
        RequireFactorised(nameof(LogitsBatch));
        var flat = Flatten(prompts);
        using var outputs = Run(flat, prompts.Count, LogitsOnly);
        return outputs[0].GetTensorDataAsSpan<float>().ToArray();
    }

    /// <summary>
    /// Draws <paramref name="n"/> responses the way the trainer does, from softmax(logits / <paramref name="temperature"/>):
    /// a factorised policy draws each position independently, a decoder token by token, each token given the ones before. The
    /// same seed gives the same responses.
    /// </summary>
    public long[][] Sample(ReadOnlySpan<long> prompt, int n, double temperature = 1.0, ulong seed = 0)
    {
        if (n is < 1 or > 4096) throw new ArgumentOutOfRangeException(nameof(n), n, "n must be in 1..4096");
        if (!(temperature is >= 0.01 and <= 100)) throw new ArgumentOutOfRangeException(nameof(temperature), temperature, "temperature must be in 0.01..100");
        long start = Stopwatch.GetTimestamp();
        if (_decoder is not null)
        {
            Validate(prompt, 0);
            var copy = prompt.ToArray();
            var samples = Decode(Enumerable.Repeat(copy, n).ToArray(), temperature, new Rng(seed));
            GrpoMetrics.RecordInference(start, 1);
            return samples;
        }
        var logits = Logits(prompt);
        var probabilities = new double[logits.Length];
        for (int pos = 0; pos < PromptLength; pos++)
            Softmax(logits.AsSpan(pos * VocabSize, VocabSize), temperature, probabilities.AsSpan(pos * VocabSize, VocabSize));
        var rng = new Rng(seed);
        var result = new long[n][];
        for (int i = 0; i < n; i++)
        {
            result[i] = new long[PromptLength];
            for (int pos = 0; pos < PromptLength; pos++)
                result[i][pos] = Draw(probabilities.AsSpan(pos * VocabSize, VocabSize), rng);
        }
        GrpoMetrics.RecordInference(start, 1);
        return result;
    }

    /// <inheritdoc />
    public RewardScore? Score(ReadOnlySpan<long> prompt, ReadOnlySpan<long> response)
    {
        Validate(prompt, 0);
        if (_decoder is not null ? response.Length > Contract.MaxResponseLength : response.Length != prompt.Length)
            throw new ArgumentException(_decoder is not null
                ? $"response has length {response.Length}; the model's responses have at most {Contract.MaxResponseLength} tokens"
                : $"response has length {response.Length}; the model's responses have length {prompt.Length}", nameof(response));
        return Contract.Rewards(prompt, response);
    }

    IDisposableReadOnlyCollection<OrtValue> Run(long[] flatPrompts, int batch, string[] outputNames)
    {
        // A disposed session's native handle is gone; calling into it would crash the process, not throw.
        ObjectDisposedException.ThrowIf(_disposed, this);
        using var input = OrtValue.CreateTensorValueFromMemory(flatPrompts, [batch, PromptLength]);
        return _session.Run(_runOptions, InputNames, [input], outputNames);
    }

    long[][] Decode(IReadOnlyList<long[]> prompts, double temperature, Rng? rng)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        return _decoder!.Decode(prompts, temperature, rng);
    }

    long[] Flatten(IReadOnlyList<long[]> prompts)
    {
        CheckBatch(prompts);
        return Flat(prompts);
    }

    /// <summary>Checked prompts of length L, row-major [n, L].</summary>
    long[] Flat(IReadOnlyList<long[]> prompts)
    {
        var flat = new long[prompts.Count * PromptLength];
        for (int b = 0; b < prompts.Count; b++) prompts[b].CopyTo(flat, b * PromptLength);
        return flat;
    }

    void CheckBatch(IReadOnlyList<long[]> prompts)
    {
        ArgumentNullException.ThrowIfNull(prompts);
        if (prompts.Count == 0) throw new ArgumentException("the batch is empty", nameof(prompts));
        for (int b = 0; b < prompts.Count; b++)
            Validate(prompts[b] ?? throw new ArgumentException($"prompt {b} is null", nameof(prompts)), b, prompts.Count > 1);
    }

    void RequireFactorised(string member)
    {
        if (_decoder is not null)
            throw new NotSupportedException($"{member} needs a {OnnxContract.Factorised.Version} model, whose responses have the prompt's length; " +
                $"'{Contract.Path}' is {OnnxContract.DecoderVersion}: use Respond, RespondBatch(IReadOnlyList<long[]>) or Sample");
    }

    void Validate(ReadOnlySpan<long> prompt, int row, bool inBatch = false)
    {
        if (Contract.Problem(prompt) is { } problem)
            throw new ArgumentException(inBatch ? $"prompt {row}: {problem}" : problem, "prompt");
    }

    internal static void Softmax(ReadOnlySpan<float> logits, double temperature, Span<double> probabilities)
    {
        double max = double.NegativeInfinity, sum = 0;
        foreach (var l in logits) max = Math.Max(max, l);
        for (int v = 0; v < logits.Length; v++) sum += probabilities[v] = Math.Exp((logits[v] - max) / temperature);
        for (int v = 0; v < logits.Length; v++) probabilities[v] /= sum;
    }

    internal static long Draw(ReadOnlySpan<double> probabilities, Rng rng)
    {
        double u = (rng.NextUInt64() >> 11) * (1.0 / (1UL << 53)), cumulative = 0;
        for (int v = 0; v < probabilities.Length; v++)
            if (u < (cumulative += probabilities[v])) return v;
        return probabilities.Length - 1;   // rounding left u above the last cumulative sum
    }

    /// <summary>Releases the native session.</summary>
    public void Dispose()
    {
        if (_disposed) return;
        _disposed = true;
        _session.Dispose();
        _sessionOptions.Dispose();
        _runOptions.Dispose();
    }
}
