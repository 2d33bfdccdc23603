using System.Text.Json;
using GrpoPipeline.Core;
using GrpoPipeline.Training.Onnx;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace GrpoPipeline.Training.Policies;

/// <summary>
/// A decoder-only transformer that answers token by token: the state is the prompt plus the tokens generated so far,
/// the action the next token. Token embeddings over the V values and SEP, EOS, PAD; learned position embeddings up to
/// <c>2·maxLength + 2</c> positions; N pre-norm blocks with causal multi-head self-attention and a GELU MLP; a final
/// LayerNorm and a head whose logits are indexed by token id, [.., V+2]: the V values, SEP (never generated) and EOS.
/// </summary>
/// <remarks>
/// Sequences are left-padded: <c>[PAD … prompt SEP response…]</c>, so every row's SEP sits in the same column and all
/// rows of a batch decode in lockstep, each step writing one column of the KV cache for every row. Positions count from
/// each row's first real token (a row's positions do not depend on how much padding it got), and no real token attends
/// to a PAD, so padding changes no log-prob. A PAD query attends to itself only, which keeps its softmax defined; its
/// output is never used. Field names are checkpoint keys: renaming one breaks old checkpoints.
/// </remarks>
public sealed partial class DecoderPolicy : GrpoPolicy
{
    readonly Embedding token_embedding;
    readonly Parameter position_embedding;
    readonly ModuleList<TransformerBlock> blocks;
    readonly LayerNorm final_norm;
    readonly Linear head;
    readonly ScalarScope _scalars = new();   // lives as long as the policy (see Scalars)
    readonly Scalar _pad;                     // PAD, for the padding masks
    readonly Scalar _never;                   // SEP's logit: never generated
    readonly Scalar _sep, _maxLength, _firstResponse, _lastPrompt;   // SEP, maxLength, maxLength + 1 and maxLength − 1, for positions from SEP

    /// <summary>
    /// A freshly initialised decoder, its weights drawn from torch's global generator; the token and position
    /// embeddings start small (×0.02) so the first logits are nearly flat.
    /// </summary>
    /// <param name="vocab">V: the values are 0..V−1; SEP, EOS and PAD are V, V+1 and V+2.</param>
    /// <param name="maxLength">Longest prompt; the policy has <c>2·maxLength + 2</c> position embeddings.</param>
    /// <param name="dModel">Model width d.</param>
    /// <param name="heads">Attention heads per block; must divide <paramref name="dModel"/>.</param>
    /// <param name="layers">Transformer blocks.</param>
    /// <param name="mlpDim">Hidden width of each block's MLP.</param>
    /// <param name="dropout">Dropout rate on each block's attention and MLP outputs (in training mode only).</param>
    /// <param name="positions">Where position indices start (<see cref="DecoderPositions"/>).</param>
    public DecoderPolicy(int vocab, int maxLength, int dModel, int heads, int layers, int mlpDim, double dropout,
        DecoderPositions positions = DecoderPositions.FromPromptStart)
        : base(nameof(DecoderPolicy))
    {
        (Vocab, MaxLength, DModel, Heads, PositionOrigin) = (vocab, maxLength, dModel, heads, positions);
        Special = SpecialTokens.For(vocab);
        using var s = new ScalarScope();
        token_embedding = nn.Embedding(SpecialTokens.InputVocab(vocab), dModel);
        position_embedding = new Parameter(randn(Positions, dModel).mul_(s[0.02]));
        blocks = nn.ModuleList(Enumerable.Range(0, layers).Select(_ => new TransformerBlock(dModel, heads, mlpDim, dropout)).ToArray());
        final_norm = nn.LayerNorm(dModel);
        head = nn.Linear(dModel, SpecialTokens.OutputVocab(vocab));
        using (no_grad()) token_embedding.weight!.mul_(s[0.02]);   // GPT-2-style small init keeps early logits flat
        RegisterComponents();
        _pad = _scalars[Special.Pad];
        _never = _scalars[-1e9];
        (_sep, _maxLength, _firstResponse, _lastPrompt) = (_scalars[Special.Sep], _scalars[(long)maxLength], _scalars[maxLength + 1L], _scalars[maxLength - 1L]);
    }

    /// <summary>Disposes the Scalars the policy owns (the PAD its masks compare with), then the module.</summary>
    /// <param name="disposing">
    /// True from <see cref="IDisposable.Dispose"/>; false from a finalizer, which leaves the Scalars to their own
    /// finalizers.
    /// </param>
    protected override void Dispose(bool disposing)
    {
        if (disposing) _scalars.Dispose();
        base.Dispose(disposing);
    }

    /// <inheritdoc/>
    public override ResponseBatch Sample(TokenRows prompts, TokenRows responses, SamplingSettings settings)
    {
        var decoded = ResponseDecoder.Decode(this, prompts, settings.Group, settings.MaxResponseLength, settings.Temperature, settings.Generator, responses, settings.KvCache);
        return new SequenceBatch(decoded, ResponseDecoder.PromptBlock(prompts, Special), settings.Group);
    }

    /// <inheritdoc/>
    public override ResponseBatch Replay(TokenRows prompts, TokenRows responses, int group, double temperature, int maxResponseLength)
    {
        var decoded = ResponseDecoder.TeacherForce(this, prompts, group, responses, maxResponseLength, temperature);
        return new SequenceBatch(decoded, ResponseDecoder.PromptBlock(prompts, Special), group);
    }

    /// <inheritdoc/>
    public override void Greedy(TokenRows prompts, TokenRows responses, int maxResponseLength)
    {
        using var scope = NewDisposeScope();
        ResponseDecoder.Decode(this, prompts, 1, maxResponseLength, 1.0, generator: null, responses);
    }

    /// <inheritdoc/>
    public override string OnnxContractVersion => OnnxContract.DecoderVersion;

    internal override string OnnxDoc => "GRPO-trained decoder (decoder/1): input_ids, attention_mask, position_ids and each layer's " +
        "past_key_values → next-token logits [batch, sequence, V+2] by token id and each layer's present key/value. " +
        "Prompt: values 0..V-1 then SEP (V); response: values then EOS (V+1); PAD (V+2) pads rows on the left.";

    internal override void WriteOnnx(OnnxGraphBuilder graph, PolicyShape shape)
    {
        var contract = OnnxContract.Decoder(Layers);
        var sizes = OnnxContract.DecoderSizes(Vocab, Heads, DModel / Heads);
        foreach (var input in contract.Inputs) graph.Graph.Input.Add(OnnxGraphBuilder.Value(input, sizes));
        DecoderGraph.Build(graph, this);
        foreach (var output in contract.Outputs) graph.Graph.Output.Add(OnnxGraphBuilder.Value(output, sizes));
    }

    internal override IEnumerable<(string Key, string Value)> OnnxMetadata(VerifiableTask task)
    {
        yield return (OnnxContract.Metadata.MinLength, task.Rules.MinLength.ToString());
        yield return (OnnxContract.Metadata.MaxLength, MaxLength.ToString());
        yield return (OnnxContract.Metadata.SepToken, Special.Sep.ToString());
        yield return (OnnxContract.Metadata.EosToken, Special.Eos.ToString());
        yield return (OnnxContract.Metadata.PadToken, Special.Pad.ToString());
        yield return (OnnxContract.Metadata.Layers, Layers.ToString());
        yield return (OnnxContract.Metadata.Heads, Heads.ToString());
        yield return (OnnxContract.Metadata.HeadDim, (DModel / Heads).ToString());
        // Written only when not the default, so default decoders export to the same bytes as before the key existed.
        if (PositionOrigin != DecoderPositions.FromPromptStart)
            yield return (OnnxContract.Metadata.Positions, JsonNamingPolicy.SnakeCaseLower.ConvertName(PositionOrigin.ToString()));
    }

    /// <summary>V: the values are 0..V−1.</summary>
    public int Vocab { get; }
    /// <summary>Longest prompt.</summary>
    public int MaxLength { get; }
    /// <summary>Model width d.</summary>
    public int DModel { get; }
    /// <summary>Attention heads per block, each of width d/H.</summary>
    public int Heads { get; }
    /// <summary>Where position indices start (<see cref="DecoderPositions"/>).</summary>
    public DecoderPositions PositionOrigin { get; }
    /// <summary>Transformer blocks.</summary>
    public int Layers => blocks.Count;
    /// <summary>SEP, EOS and PAD.</summary>
    public SpecialTokens Special { get; }
    /// <summary>Position embeddings: a prompt of maxLength, SEP, and a response of maxLength + 1 tokens.</summary>
    public int Positions => 2 * MaxLength + 2;
    /// <summary>
    /// The transformer blocks, in order (the ONNX exporter walks them; a KV cache has one layer per block).
    /// </summary>
    public IEnumerable<TransformerBlock> Blocks => blocks;
    /// <summary>Token embeddings [V+3, d]: the values, SEP, EOS and PAD.</summary>
    public Tensor TokenEmbedding => token_embedding.weight!;
    /// <summary>Learned position embeddings [<see cref="Positions"/>, d].</summary>
    public Tensor PositionEmbedding => position_embedding;
    /// <summary>The LayerNorm before the head.</summary>
    public LayerNorm FinalNorm => final_norm;
    /// <summary>
    /// The head's parameters, d → V+1: the values, then EOS. <see cref="Logits"/> lays its outputs out by token id; the
    /// parameters keep this shape so that checkpoints keep their keys and shapes.
    /// </summary>
    public Linear Head => head;
    /// <summary>Token ids a response may hold: the V values and EOS (not SEP, not PAD). Sampling draws among these.</summary>
    public long[] Generable => [.. Enumerable.Range(0, Vocab).Select(v => (long)v), Special.Eos];

    /// <summary>
    /// The next-token logits by token id, [.., V+2], of final activations [.., d]: the values at their ids, EOS at id
    /// V+1, and SEP (id V), which is never generated, at −1e9 — exactly the exported graph's <c>logits</c>.
    /// </summary>
    Tensor Logits(Tensor x)
    {
        using var scope = NewDisposeScope();
        var outputs = head.forward(final_norm.forward(x));                                   // [.., V+1]
        var eos = outputs.narrow(-1, Vocab, 1);
        return cat([outputs.narrow(-1, 0, Vocab), full_like(eos, _never), eos], -1).MoveToOuterDisposeScope();
    }

    /// <summary>
    /// Teacher-forced logits [N, T, V+2] of token sequences [N, T] (left-padded, PAD wherever there is no token):
    /// the logits at column t predict the token at column t+1.
    /// </summary>
    public override Tensor forward(Tensor tokens) => Run(tokens, cache: null);

    /// <summary>
    /// Runs the prompt block [N, P] (left-padded, ending with SEP) into the empty <paramref name="cache"/> and returns
    /// the logits [N, V+2] of its last column: the distribution of the first response token.
    /// </summary>
    public Tensor Prefill(Tensor promptBlock, KvCache cache)
    {
        if (cache.Length != 0) throw new ArgumentException("prefill needs an empty cache", nameof(cache));
        using var scope = NewDisposeScope();
        var logits = Run(promptBlock, cache);
        return logits.select(1, -1).MoveToOuterDisposeScope();
    }

    /// <summary>
    /// One decode step: <paramref name="tokens"/> [N] enter column <c>cache.Length</c> at <paramref name="positions"/>
    /// [N]; returns the logits [N, V+2] of the next token. A row fed PAD (finished) keeps its cache column invalid.
    /// </summary>
    public Tensor Step(Tensor tokens, Tensor positions, KvCache cache)
    {
        if (cache.Length >= cache.Capacity) throw new InvalidOperationException($"the cache is full ({cache.Capacity} columns)");
        using var scope = NewDisposeScope();
        long column = cache.Length;
        cache.KeyValid.select(1, column).copy_(tokens.ne(_pad));
        var x = token_embedding.forward(tokens.unsqueeze(1)).add(PositionVectors(positions).unsqueeze(1), Scalars.One);   // [N, 1, d]
        var mask = cache.KeyValid.narrow(1, 0, column + 1).view(cache.Rows, 1, 1, column + 1);
        for (int i = 0; i < blocks.Count; i++) x = blocks[i].Forward(x, mask, cache.Layers[i], column);
        cache.Length = column + 1;
        return Logits(x).select(1, 0).MoveToOuterDisposeScope();
    }

    /// <summary>
    /// Teacher-forced logits [B·G, R, V+2] of G responses per prompt, the prompt computed once: the prompt block
    /// [B, P] (left-padded, ending with SEP) and each row's response tokens but the last, <paramref name="responseInputs"/>
    /// [B·G, R−1]. Column 0 predicts a response's first token, column j its (j+1)-th. Equal to
    /// <see cref="forward"/> on the whole sequences, narrowed to their last R columns — at about half the cost when
    /// prompt and response are about as long.
    /// </summary>
    public Tensor ForwardResponses(Tensor promptBlock, int group, Tensor responseInputs)
    {
        using var scope = NewDisposeScope();
        long prompts = promptBlock.shape[0], width = promptBlock.shape[1];
        long rows = responseInputs.shape[0], steps = responseInputs.shape[1];
        var promptValid = promptBlock.ne(_pad);                                                 // [B, P]
        var rowValid = responseInputs.ne(_pad);                                                 // [N, T]
        var prefix = Embed(promptBlock, PositionIds(promptBlock));
        // A response token's position continues from its prompt's SEP.
        var start = FirstResponsePositions(promptBlock).unsqueeze(1).repeat_interleave(group, 0);   // [N, 1]
        var own = Embed(responseInputs, start.add(PositionsOf(rowValid), Scalars.One));

        var prefixMask = AttentionMask(promptValid);                                            // [B, 1, P, P]
        var causal = ones(steps, steps, dtype: ScalarType.Bool).tril();
        var ownMask = (causal.unsqueeze(0) & rowValid.unsqueeze(1)) | eye(steps, dtype: ScalarType.Bool).unsqueeze(0);   // [N, T, T]
        var prefixKeys = promptValid.repeat_interleave(group, 0).unsqueeze(1).expand(rows, steps, width);   // [N, T, P]
        var rowMask = cat([prefixKeys, ownMask], 2).unsqueeze(1);                               // [N, 1, T, P+T]

        foreach (var block in blocks) (prefix, own) = block.ForwardShared(prefix, own, prefixMask, rowMask, group);
        var first = Logits(prefix.narrow(1, width - 1, 1)).repeat_interleave(group, 0);   // [N, 1, V+2]
        var rest = Logits(own);                                                           // [N, T, V+2]
        return cat([first, rest], 1).MoveToOuterDisposeScope();
    }

    /// <summary>The positions of the tokens of <paramref name="valid"/> [N, T]: 0 at each row's first real token.</summary>
    public static Tensor PositionsOf(Tensor valid) => valid.to(ScalarType.Int64).cumsum(1).sub(Scalars.One).clamp_min(Scalars.Zero);

    /// <summary>
    /// The position index of every column of <paramref name="tokens"/> [N, T] (left-padded, one SEP per row): with
    /// <see cref="DecoderPositions.FromPromptStart"/> <see cref="PositionsOf"/>; with <see cref="DecoderPositions.FromSep"/>
    /// the same shifted by maxLength − n, so SEP is at maxLength. PAD columns get some index in range; their output is never used.
    /// </summary>
    public Tensor PositionIds(Tensor tokens)
    {
        using var scope = NewDisposeScope();
        var positions = PositionsOf(tokens.ne(_pad));
        if (PositionOrigin != DecoderPositions.FromPromptStart)
        {
            var sep = positions.mul(tokens.eq(_sep)).sum(1, keepdim: true);      // n: SEP's index from the prompt start
            positions = positions.add(sep.neg().add(_maxLength, Scalars.One), Scalars.One);
        }
        return positions.MoveToOuterDisposeScope();
    }

    /// <summary>The position of each row's first response token [N], for a prompt block [N, P] ending with SEP.</summary>
    public Tensor FirstResponsePositions(Tensor promptBlock) => PositionOrigin != DecoderPositions.FromPromptStart
        ? full(promptBlock.shape[0], _firstResponse, ScalarType.Int64)
        : promptBlock.ne(_pad).sum(1);

    Tensor Run(Tensor tokens, KvCache? cache)
    {
        using var scope = NewDisposeScope();
        long length = tokens.shape[1];
        var valid = tokens.ne(_pad);                                                          // [N, T]
        var x = Embed(tokens, PositionIds(tokens));
        var mask = AttentionMask(valid);
        if (cache is not null) cache.KeyValid.narrow(1, 0, length).copy_(valid);
        for (int i = 0; i < blocks.Count; i++) x = blocks[i].Forward(x, mask, cache?.Layers[i], 0);
        if (cache is not null) cache.Length = length;
        return Logits(x).MoveToOuterDisposeScope();
    }

    /// <summary>Token plus position embeddings, [N, T, d].</summary>
    Tensor Embed(Tensor tokens, Tensor positions) =>
        token_embedding.forward(tokens).add(PositionVectors(positions.flatten()).view(tokens.shape[0], tokens.shape[1], DModel), Scalars.One);

    /// <summary>
    /// The position vectors [K, d] of position ids [K] (<see cref="PositionIds"/>): row id of the table, or with
    /// <see cref="DecoderPositions.Mirrored"/> row maxLength − 1 − id before SEP (id &lt; maxLength), row id − maxLength
    /// from SEP on, plus row 2·maxLength + 1 there.
    /// </summary>
    public Tensor PositionVectors(Tensor ids)
    {
        if (PositionOrigin != DecoderPositions.Mirrored) return position_embedding.index_select(0, ids);
        using var scope = NewDisposeScope();
        var after = ids.ge(_maxLength);                                                            // SEP and the response
        var rows = where(after, ids.sub(_maxLength), ids.neg().add(_lastPrompt, Scalars.One));    // id − M, or M − 1 − id
        var side = position_embedding.select(0, Positions - 1).unsqueeze(0);                      // [1, d]
        return position_embedding.index_select(0, rows).add(after.unsqueeze(1).to(position_embedding.dtype).mul(side), Scalars.One).MoveToOuterDisposeScope();
    }

    /// <summary>Causal and padding-aware, [N, 1, T, T]: query t attends to real keys at or before t; a PAD query to itself only.</summary>
    static Tensor AttentionMask(Tensor valid)
    {
        long length = valid.shape[1];
        var causal = ones(length, length, dtype: ScalarType.Bool).tril();
        return ((causal.unsqueeze(0) & valid.unsqueeze(1)) | eye(length, dtype: ScalarType.Bool).unsqueeze(0)).unsqueeze(1);
    }
}
