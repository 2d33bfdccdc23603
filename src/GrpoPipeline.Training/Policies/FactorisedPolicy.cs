using GrpoPipeline.Core;
using GrpoPipeline.Training.Onnx;
using static TorchSharp.torch;

namespace GrpoPipeline.Training.Policies;

/// <summary>
/// A factorised policy: <c>forward</c> maps prompts [B, L] to logits [B, L, V], one distribution per response position
/// given the prompt alone. Every position's distribution is independent of what was sampled at the others, so a whole
/// rollout is one forward pass: G responses per prompt are G draws per position, and a response's log-prob is the sum
/// of its positions' — which is what lets the loss run on [B, L, V] (its fast path).
/// </summary>
public abstract class FactorisedPolicy : GrpoPolicy
{
    /// <summary>A factorised policy module named <paramref name="name"/>.</summary>
    protected FactorisedPolicy(string name) : base(name) { }

    /// <inheritdoc/>
    public override ResponseBatch Sample(TokenRows prompts, TokenRows responses, SamplingSettings settings) => Evaluating(() =>
    {
        int batch = prompts.Count, length = prompts.Stride, group = settings.Group;
        var promptTensor = tensor(prompts.Tokens, [batch, length]);
        var logProbs = GrpoMath.LogProbs(forward(promptTensor), settings.Temperature);                       // [B, L, V]
        int vocab = (int)logProbs.shape[2];
        var samples = multinomial(logProbs.exp().view(batch * length, vocab), group, replacement: true,
            generator: settings.Generator).view(batch, length, group);                                         // [B, L, G]
        // One contiguous managed copy, [B, G, L], for the rewards.
        samples.permute(0, 2, 1).contiguous().data<long>().CopyTo(responses.Tokens, 0, 0);
        responses.Lengths.AsSpan().Fill(length);
        return (ResponseBatch)new FactorisedBatch(promptTensor, samples, logProbs);
    });

    /// <inheritdoc/>
    public override ResponseBatch Replay(TokenRows prompts, TokenRows responses, int group, double temperature, int maxResponseLength) => Evaluating(() =>
    {
        int batch = prompts.Count, length = prompts.Stride;
        var promptTensor = tensor(prompts.Tokens, [batch, length]);
        var logProbs = GrpoMath.LogProbs(forward(promptTensor), temperature);
        // The buffers hold exactly these rows: the tensor reads them in place (no managed copy per epoch).
        var samples = tensor(responses.Tokens, [batch, group, length]).permute(0, 2, 1).contiguous();
        return (ResponseBatch)new FactorisedBatch(promptTensor, samples, logProbs);
    });

    /// <inheritdoc/>
    public override void Greedy(TokenRows prompts, TokenRows responses, int maxResponseLength) => Evaluating(() =>
    {
        using var scope = NewDisposeScope();
        forward(tensor(prompts.Tokens, [prompts.Count, prompts.Stride])).argmax(-1).data<long>().CopyTo(responses.Tokens, 0, 0);
        responses.Lengths.AsSpan().Fill(prompts.Stride);
        return 0;
    });

    /// <inheritdoc/>
    public override string OnnxContractVersion => OnnxContract.Factorised.Version;

    internal override string OnnxDoc => "GRPO-trained factorised policy (factorised/1): prompts [batch, L] int64 → logits [batch, L, V] float32 and greedy response [batch, L] int64.";

    /// <summary>The contract's inputs, the kind's logits (<see cref="WriteLogits"/>), and the greedy response as their argmax.</summary>
    internal override void WriteOnnx(OnnxGraphBuilder graph, PolicyShape shape)
    {
        if (shape.ResponseLength != shape.PromptLength)
            throw new NotSupportedException($"the {OnnxContract.Factorised.Version} contract answers with one token per prompt token; this policy has L={shape.PromptLength}, R={shape.ResponseLength}");
        var contract = OnnxContract.Factorised;
        var sizes = OnnxContract.FactorisedSizes(shape.PromptLength, shape.Vocab);
        foreach (var input in contract.Inputs) graph.Graph.Input.Add(OnnxGraphBuilder.Value(input, sizes));
        if (WriteLogits(graph) != OnnxContract.LogitsOutput) throw new InvalidOperationException("policy graph must end in the logits output");
        // Greedy response: first maximal index, as torch.argmax.
        graph.Node("ArgMax", [OnnxContract.LogitsOutput], OnnxContract.ResponseOutput,
            OnnxGraphBuilder.Int("axis", 2), OnnxGraphBuilder.Int("keepdims", 0), OnnxGraphBuilder.Int("select_last_index", 0));
        foreach (var output in contract.Outputs) graph.Graph.Output.Add(OnnxGraphBuilder.Value(output, sizes));
    }

    /// <summary>Writes the nodes from the prompts input to the logits output [B, L, V]; returns the output's name.</summary>
    internal abstract string WriteLogits(OnnxGraphBuilder graph);

    /// <summary>A factorised batch: the prompts [B, L], the samples [B, L, G] and the log-distributions [B, L, V].</summary>
    sealed class FactorisedBatch(Tensor prompts, Tensor samples, Tensor logProbs)
        : ResponseBatch(ones(samples.shape[0] * samples.shape[2], samples.shape[1]), PerResponse(logProbs, samples), GrpoMath.Entropy(logProbs).item<float>())
    {
        public override FactorisedLogProbs Factorised { get; } = new(logProbs, samples, (int)logProbs.shape[2]);

        public override ResponseLogProbs LogProbs(GrpoPolicy policy, double temperature) =>
            new FactorisedResponseLogProbs(GrpoMath.LogProbs(policy.forward(prompts), temperature), samples);
    }

    sealed class FactorisedResponseLogProbs(Tensor logProbs, Tensor samples) : ResponseLogProbs(PerResponse(logProbs, samples))
    {
        long Group => samples.shape[2];

        // Every response of a prompt sees the same per-position distributions: [B, L, …] repeated G times.
        public override Tensor Distributions() => Repeat(logProbs);
        public override Tensor TokenEntropy() => Repeat(GrpoMath.TokenEntropy(logProbs));
        public override Tensor Factorised => logProbs;

        Tensor Repeat(Tensor perPosition) => perPosition.unsqueeze(1).expand([perPosition.shape[0], Group, .. perPosition.shape[1..]])
            .reshape([perPosition.shape[0] * Group, .. perPosition.shape[1..]]);
    }

    /// <summary>The log-probs [B, L, V] of samples [B, L, G], response by response: [B·G, L].</summary>
    static Tensor PerResponse(Tensor logProbs, Tensor samples)
    {
        long batch = samples.shape[0], length = samples.shape[1], group = samples.shape[2];
        return logProbs.gather(2, samples).permute(0, 2, 1).reshape(batch * group, length);
    }
}
