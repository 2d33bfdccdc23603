using GrpoPipeline.Core;
using GrpoPipeline.Training.Onnx;
using static TorchSharp.torch;

namespace GrpoPipeline.Training.Policies;

/// <summary>How a policy samples a rollout's responses.</summary>
/// <param name="Group">G: responses per prompt (row b·G + g answers prompt b).</param>
/// <param name="Temperature">T: responses are drawn from softmax(logits / T), and trained on that distribution.</param>
/// <param name="MaxResponseLength">The longest response, in tokens (EOS included for a decoder).</param>
/// <param name="Generator">The random generator the draw takes its samples from.</param>
/// <param name="KvCache">
/// Decode an autoregressive policy's responses with the KV cache (default); false recomputes the whole prefix at every
/// step, as nanoGPT's <c>generate</c> does: the same responses, slower — for the benchmark.
/// </param>
public sealed record SamplingSettings(int Group, double Temperature, int MaxResponseLength, Generator Generator, bool KvCache = true);

/// <summary>
/// A policy kind: what the trainer, the sampler, the greedy evaluator and the exporter ask of a policy, and nothing
/// else. A kind samples G responses per prompt and gives their per-token log-probs (<see cref="Sample"/>), gives the
/// log-probs of responses drawn elsewhere (<see cref="Replay"/>), answers greedily (<see cref="Greedy"/>), and writes
/// itself as an ONNX graph (<see cref="WriteOnnx"/>). <see cref="SeedPolicy"/> and <see cref="FactorisedTransformerPolicy"/>
/// are factorised (every response position answered at once from the prompt); <see cref="DecoderPolicy"/> is
/// autoregressive (the state is the prompt and the tokens generated so far).
/// </summary>
/// <remarks>
/// A subclass is a TorchSharp module: its fields are checkpoint keys, and its constructor ends with
/// <c>RegisterComponents()</c>. <c>forward</c> maps token ids to logits; its input and output shapes are the kind's own.
/// The kinds live in this library: writing the ONNX graph is internal, and <see cref="PolicyFactory"/> builds each
/// kind from <see cref="PolicyOptions.Kind"/>.
/// </remarks>
public abstract class GrpoPolicy : nn.Module<Tensor, Tensor>
{
    /// <summary>A policy module named <paramref name="name"/>.</summary>
    protected GrpoPolicy(string name) : base(name) { }

    /// <summary>
    /// Samples <see cref="SamplingSettings.Group"/> responses to each prompt under no-grad and in eval mode, writes them
    /// into <paramref name="responses"/> ([B·G] rows, without EOS) for the rewards, and returns the rollout's tensors with
    /// the log-probs the tokens were drawn with.
    /// </summary>
    public abstract ResponseBatch Sample(TokenRows prompts, TokenRows responses, SamplingSettings settings);

    /// <summary>
    /// The rollout's tensors for responses drawn elsewhere (kept by dynamic sampling, or drawn with older weights), with
    /// their log-probs under this policy from one pass under no-grad and in eval mode: what <see cref="Sample"/> would
    /// have returned had it drawn these tokens.
    /// </summary>
    public abstract ResponseBatch Replay(TokenRows prompts, TokenRows responses, int group, double temperature, int maxResponseLength);

    /// <summary>
    /// The greedy (argmax) response to each prompt, written into <paramref name="responses"/>, under no-grad and in eval
    /// mode (the mode is restored); the tensors it makes are freed before it returns.
    /// </summary>
    public abstract void Greedy(TokenRows prompts, TokenRows responses, int maxResponseLength);

    /// <summary>The ONNX contract the kind exports to: <c>factorised/1</c> or <c>decoder/1</c>.</summary>
    public abstract string OnnxContractVersion { get; }

    /// <summary>The ONNX model's doc string: what the graph takes and gives.</summary>
    internal abstract string OnnxDoc { get; }

    /// <summary>
    /// Writes the policy's inference graph into <paramref name="graph"/>: inputs, nodes with the weights as initializers,
    /// and outputs, as <see cref="OnnxContractVersion"/> names them.
    /// </summary>
    internal abstract void WriteOnnx(OnnxGraphBuilder graph, PolicyShape shape);

    /// <summary>The kind's own ONNX metadata entries (its cache's shape, special tokens), if any.</summary>
    internal virtual IEnumerable<(string Key, string Value)> OnnxMetadata(VerifiableTask task) => [];

    /// <summary>Runs <paramref name="action"/> in eval mode under no-grad and restores the module's mode.</summary>
    protected T Evaluating<T>(Func<T> action)
    {
        bool wasTraining = training;
        eval();
        try
        {
            using var _ = no_grad();
            return action();
        }
        finally
        {
            if (wasTraining) train();
        }
    }
}

/// <summary>
/// A rollout's responses as a policy kind lays them out for the loss: N = B·G rows (the G responses of prompt b in rows
/// b·G … b·G + G − 1) of T token slots, a mask over the slots that hold a response token, and the log-probs the tokens
/// had when the batch was made (π_old when the batch is the learner's own). <see cref="LogProbs"/> recomputes them under
/// any policy of the kind, with gradients when they are on.
/// </summary>
public abstract class ResponseBatch
{
    /// <summary>A batch with its mask [N, T], log-probs [N, T] and entropy.</summary>
    protected ResponseBatch(Tensor mask, Tensor logp, double entropy) => (Mask, Logp, Entropy) = (mask, logp, entropy);

    /// <summary>[N, T] float: 1 on a response's tokens (EOS included), 0 on padding.</summary>
    public Tensor Mask { get; }
    /// <summary>[N, T]: the log-prob of each token under softmax(logits / T) when the batch was made, 0 where masked.</summary>
    public Tensor Logp { get; }
    /// <summary>The mean entropy of the next-token distributions over the batch's response tokens.</summary>
    public double Entropy { get; }
    /// <summary>[N] bool: the response reached its cap without EOS; null when a kind's responses have a fixed length.</summary>
    public virtual Tensor? Truncated => null;
    /// <summary>
    /// The batch's log-probs as [B, L, V] distributions and [B, L, G] samples, when the kind is factorised (each position's
    /// distribution independent of what was sampled at the others): what the fast path of the loss needs. Null otherwise.
    /// </summary>
    public virtual FactorisedLogProbs? Factorised => null;

    /// <summary>The log-probs of the batch's tokens under <paramref name="policy"/> (a policy of the batch's kind).</summary>
    public abstract ResponseLogProbs LogProbs(GrpoPolicy policy, double temperature);

    /// <summary>Adds the batch's own metrics (for variable-length responses their lengths and truncation).</summary>
    public virtual void AddMetrics(EpochMetrics metrics) { }

    /// <summary>Copies <see cref="Logp"/> into <paramref name="rows"/>, one row of <paramref name="stride"/> ≥ T per response, zero-filled.</summary>
    public void CopyLogp(float[] rows, int stride)
    {
        var values = Logp.contiguous().data<float>().ToArray();
        int count = (int)Logp.shape[0], steps = (int)Logp.shape[1];
        Array.Clear(rows, 0, count * stride);
        for (int r = 0; r < count; r++) Array.Copy(values, r * steps, rows, r * stride, steps);
    }
}

/// <summary>
/// The log-probs of a <see cref="ResponseBatch"/>'s tokens under one policy: per token, and, on demand, each token's
/// next-token distribution and its entropy.
/// </summary>
public abstract class ResponseLogProbs
{
    /// <summary>The log-probs [N, T] of the batch's tokens.</summary>
    protected ResponseLogProbs(Tensor logp) => Logp = logp;

    /// <summary>[N, T]: log π of each token (any value where masked).</summary>
    public Tensor Logp { get; }
    /// <summary>[N, T, V']: each slot's full next-token log-distribution (for the exact KL).</summary>
    public abstract Tensor Distributions();
    /// <summary>[N, T]: each slot's next-token entropy (for the entropy bonus).</summary>
    public abstract Tensor TokenEntropy();
    /// <summary>The [B, L, V] log-distributions, when the kind is factorised; null otherwise.</summary>
    public virtual Tensor? Factorised => null;
}

/// <summary>A factorised batch's distributions and samples, for the loss's fast path.</summary>
/// <param name="LogProbs">[B, L, V]: each position's log-distribution when the batch was made.</param>
/// <param name="Samples">[B, L, G]: the sampled token of each position, response by response.</param>
/// <param name="Vocab">V.</param>
public sealed record FactorisedLogProbs(Tensor LogProbs, Tensor Samples, int Vocab);
