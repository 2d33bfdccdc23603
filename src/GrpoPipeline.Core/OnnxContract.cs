namespace GrpoPipeline.Core;

/// <summary>Element type of a tensor in an ONNX contract.</summary>
public enum TensorElementType
{
    /// <summary>int64 (ONNX <c>INT64</c>, .NET <see cref="long"/>): tokens.</summary>
    Int64,
    /// <summary>float32 (ONNX <c>FLOAT</c>, .NET <see cref="float"/>): logits.</summary>
    Float32,
}

/// <summary>
/// One input or output of a contract: its name, element type and dimensions. A dimension is a number, or a symbol
/// (<see cref="OnnxContract.BatchDim"/>, <see cref="OnnxContract.LengthDim"/>, <see cref="OnnxContract.VocabDim"/>)
/// that a model fixes in its metadata; only the batch stays symbolic in the exported graph.
/// </summary>
/// <param name="Name">Tensor name in the graph.</param>
/// <param name="ElementType">Element type.</param>
/// <param name="Dimensions">Dimension symbols, outermost first.</param>
public sealed record TensorSpec(string Name, TensorElementType ElementType, IReadOnlyList<string> Dimensions)
{
    /// <summary>
    /// The dimensions with every symbol of <paramref name="sizes"/> replaced by its size; the others (the batch) stay
    /// symbolic, as null.
    /// </summary>
    public long?[] Resolve(IReadOnlyDictionary<string, long> sizes) =>
        Dimensions.Select(d => sizes.TryGetValue(d, out var size) ? size : (long?)null).ToArray();

    /// <summary>The dimensions as a reader sees them: <c>[batch, 5, 10]</c>.</summary>
    public string[] Shape(IReadOnlyDictionary<string, long> sizes) =>
        Dimensions.Select(d => sizes.TryGetValue(d, out var size) ? size.ToString(System.Globalization.CultureInfo.InvariantCulture) : d).ToArray();

    /// <summary>The element type as ONNX tools print it: <c>int64</c>, <c>float32</c>.</summary>
    public string ElementTypeName => ElementType.ToString().ToLowerInvariant();

    /// <summary>A one-line description for error messages: <c>input 'prompts' int64 [batch, 5]</c>.</summary>
    public string Describe(string role, IReadOnlyDictionary<string, long> sizes) =>
        $"{role} '{Name}' {ElementTypeName} [{string.Join(", ", Shape(sizes))}]";
}

/// <summary>A versioned ONNX interface: which tensors go in and come out, with their types and dimensions.</summary>
/// <param name="Version">The value of the model's <see cref="OnnxContract.Metadata.Contract"/> metadata, e.g. <c>factorised/1</c>.</param>
/// <param name="Inputs">Graph inputs.</param>
/// <param name="Outputs">Graph outputs.</param>
public sealed record ContractSpec(string Version, IReadOnlyList<TensorSpec> Inputs, IReadOnlyList<TensorSpec> Outputs);

/// <summary>
/// The ONNX interface of exported policies, as a description (<see cref="Factorised"/>, <see cref="Decoder"/>) rather than scattered names: the
/// exporter writes the graph's inputs and outputs from it, and every reader (the contract check, the ML.NET scorer,
/// <c>GET /v1/model</c>) checks against it or reports it.
/// </summary>
public static class OnnxContract
{
    /// <summary>Input: int64 prompts [batch, L].</summary>
    public const string PromptsInput = "prompts";
    /// <summary>Output: float32 logits [batch, L, V].</summary>
    public const string LogitsOutput = "logits";
    /// <summary>Output: int64 greedy responses (argmax over the vocabulary) [batch, L].</summary>
    public const string ResponseOutput = "response";

    /// <summary>The symbolic batch dimension.</summary>
    public const string BatchDim = "batch";
    /// <summary>The prompt (and response) length, fixed per model by <see cref="Metadata.PromptLength"/>.</summary>
    public const string LengthDim = "L";
    /// <summary>The vocabulary size, fixed per model by <see cref="Metadata.VocabSize"/>.</summary>
    public const string VocabDim = "V";

    /// <summary>
    /// <c>factorised/1</c>: a factorised policy that answers a prompt in one run, one response token per prompt token,
    /// <c>prompts [batch, L]</c> → <c>logits [batch, L, V]</c> and the greedy <c>response [batch, L]</c>. Models
    /// exported before 0.3 carry the same interface under <see cref="LegacySorterVersion"/>, and still load.
    /// </summary>
    public static readonly ContractSpec Factorised = new("factorised/1",
        [new TensorSpec(PromptsInput, TensorElementType.Int64, [BatchDim, LengthDim])],
        [
            new TensorSpec(LogitsOutput, TensorElementType.Float32, [BatchDim, LengthDim, VocabDim]),
            new TensorSpec(ResponseOutput, TensorElementType.Int64, [BatchDim, LengthDim]),
        ]);

    /// <summary>Decoder input: int64 token ids [batch, sequence] — a prompt block, or the next token of each row.</summary>
    public const string InputIds = "input_ids";
    /// <summary>Decoder input: int64 [batch, total_sequence], 1 for a real token (past and new), 0 for padding.</summary>
    public const string AttentionMask = "attention_mask";
    /// <summary>Decoder input: int64 positions [batch, sequence], counted from each row's first real token.</summary>
    public const string PositionIds = "position_ids";
    /// <summary>Decoder input: layer <paramref name="layer"/>'s cached keys, float32 [batch, heads, past_sequence, head_dim].</summary>
    public static string PastKey(int layer) => $"past_key_values.{layer}.key";
    /// <summary>Decoder input: layer <paramref name="layer"/>'s cached values.</summary>
    public static string PastValue(int layer) => $"past_key_values.{layer}.value";
    /// <summary>Decoder output: layer <paramref name="layer"/>'s keys, past then new, [batch, heads, total_sequence, head_dim].</summary>
    public static string PresentKey(int layer) => $"present.{layer}.key";
    /// <summary>Decoder output: layer <paramref name="layer"/>'s values, past then new.</summary>
    public static string PresentValue(int layer) => $"present.{layer}.value";

    /// <summary>The new tokens of a decoder call.</summary>
    public const string SequenceDim = "sequence";
    /// <summary>Tokens already in the cache (0 on the first call).</summary>
    public const string PastSequenceDim = "past_sequence";
    /// <summary>past_sequence + sequence.</summary>
    public const string TotalSequenceDim = "total_sequence";
    /// <summary>Attention heads, fixed per model by <see cref="Metadata.Heads"/>.</summary>
    public const string HeadsDim = "heads";
    /// <summary>Per-head width, d_model / heads.</summary>
    public const string HeadDim = "head_dim";
    /// <summary>The decoder's logits cover every token id it could emit: the values, SEP (never) and EOS, V+2.</summary>
    public const string OutputVocabDim = "V+2";

    /// <summary>
    /// <c>decoder/1</c> for a decoder of <paramref name="layers"/> layers: one graph for the prefill and every decode
    /// step, named as ONNX Runtime's generation tooling and Hugging Face Optimum name theirs — <c>input_ids</c>,
    /// <c>attention_mask</c>, <c>position_ids</c> and each layer's <c>past_key_values.{i}.key|value</c> in;
    /// <c>logits</c> [batch, sequence, V+2] (indexed by token id; SEP's is a large negative constant) and each layer's
    /// <c>present.{i}.key|value</c> out. <c>past_sequence</c> may be 0.
    /// </summary>
    public static ContractSpec Decoder(int layers)
    {
        string[] cache = [BatchDim, HeadsDim, PastSequenceDim, HeadDim], present = [BatchDim, HeadsDim, TotalSequenceDim, HeadDim];
        var inputs = new List<TensorSpec>
        {
            new(InputIds, TensorElementType.Int64, [BatchDim, SequenceDim]),
            new(AttentionMask, TensorElementType.Int64, [BatchDim, TotalSequenceDim]),
            new(PositionIds, TensorElementType.Int64, [BatchDim, SequenceDim]),
        };
        var outputs = new List<TensorSpec> { new(LogitsOutput, TensorElementType.Float32, [BatchDim, SequenceDim, OutputVocabDim]) };
        for (int i = 0; i < layers; i++)
        {
            inputs.Add(new(PastKey(i), TensorElementType.Float32, cache));
            inputs.Add(new(PastValue(i), TensorElementType.Float32, cache));
            outputs.Add(new(PresentKey(i), TensorElementType.Float32, present));
            outputs.Add(new(PresentValue(i), TensorElementType.Float32, present));
        }
        return new ContractSpec(DecoderVersion, inputs, outputs);
    }

    /// <summary>
    /// The position scheme of a decoder (<see cref="Metadata.Positions"/>), which says what <see cref="PositionIds"/>
    /// holds. <c>from_prompt_start</c> (models without the key): positions counted from each row's first real token,
    /// SEP at n for a prompt of n tokens. <c>from_sep</c> and <c>mirrored</c>: the same plus maxLength − n for every
    /// token of the row, so SEP is at maxLength whatever n is (the graph of <c>mirrored</c> folds the ids around SEP
    /// itself). The caller computes the ids; the graph is the same contract.
    /// </summary>
    public static readonly IReadOnlyList<string> PositionSchemes = [PositionsFromPromptStart, "from_sep", "mirrored"];
    /// <summary>The default position scheme, and that of decoders without <see cref="Metadata.Positions"/>.</summary>
    public const string PositionsFromPromptStart = "from_prompt_start";

    /// <summary>The version of <see cref="Decoder"/>.</summary>
    public const string DecoderVersion = "decoder/1";

    /// <summary>
    /// <c>sorter/1</c>, the name of <see cref="Factorised"/> before 0.3 (and of models without a contract key): read as
    /// <see cref="Factorised"/>.
    /// </summary>
    public const string LegacySorterVersion = "sorter/1";

    /// <summary>The contract versions this build reads.</summary>
    public static readonly IReadOnlyList<string> Versions = [Factorised.Version, DecoderVersion, LegacySorterVersion];

    /// <summary>The sizes that fix a factorised policy's symbolic dimensions.</summary>
    public static IReadOnlyDictionary<string, long> FactorisedSizes(int length, int vocab) =>
        new Dictionary<string, long> { [LengthDim] = length, [VocabDim] = vocab };

    /// <summary>The sizes that fix a decoder's per-model dimensions (the batch and the sequences stay symbolic).</summary>
    public static IReadOnlyDictionary<string, long> DecoderSizes(int vocab, int heads, int headDim) =>
        new Dictionary<string, long> { [OutputVocabDim] = vocab + 2, [HeadsDim] = heads, [HeadDim] = headDim };

    /// <summary>ONNX operator set the exporter targets.</summary>
    public const int Opset = 17;
    /// <summary>ONNX IR version the exporter writes.</summary>
    public const long IrVersion = 8;
    /// <summary>producer_name written into exported models.</summary>
    public const string ProducerName = "GrpoPipeline";

    /// <summary>Keys of the model's metadata_props.</summary>
    public static class Metadata
    {
        /// <summary>The contract version, <c>factorised/1</c> or <c>decoder/1</c>; a model without it is read as <c>factorised/1</c>.</summary>
        public const string Contract = "grpo.contract";
        /// <summary>The task the policy solves, by its registered name (<see cref="TaskRegistry"/>): <c>sort</c>, <c>reverse</c>, <c>add</c>, or an app's own.</summary>
        public const string Task = "grpo.task";
        /// <summary>
        /// JSON of the <see cref="Core.TaskOptions"/> the model was trained on (<see cref="ConfigJson"/>): with
        /// <see cref="Task"/>, what rebuilds the task (prompt rules, rewards, held-out split) without the trainer.
        /// </summary>
        public const string TaskOptions = "grpo.task_options";
        /// <summary>The policy architecture, e.g. <c>seed</c> or <c>transformer</c>.</summary>
        public const string Policy = "grpo.policy";
        /// <summary>V: prompt tokens are 0..V−1.</summary>
        public const string VocabSize = "grpo.vocab_size";
        /// <summary>The longest prompt (L for a factorised policy).</summary>
        public const string PromptLength = "grpo.prompt_length";
        /// <summary>The longest response: L for a factorised policy; a decoder's, EOS included.</summary>
        public const string ResponseLength = "grpo.response_length";
        /// <summary>The training run's name.</summary>
        public const string Run = "grpo.run";
        /// <summary>The epoch the policy was exported at.</summary>
        public const string Epoch = "grpo.epoch";
        /// <summary>The full training config, as JSON.</summary>
        public const string Config = "grpo.config";
        /// <summary>Where models exported before 0.3 kept the <see cref="TaskOptions"/> JSON; read when that key is missing.</summary>
        public const string HeldOutSplit = "grpo.heldout_split";
        /// <summary>A decoder's shortest prompt.</summary>
        public const string MinLength = "grpo.min_length";
        /// <summary>A decoder's longest prompt (its responses have at most this + 1 tokens, EOS included).</summary>
        public const string MaxLength = "grpo.max_length";
        /// <summary>The id of SEP, which ends a prompt (V).</summary>
        public const string SepToken = "grpo.sep_token";
        /// <summary>The id of EOS, which ends a response (V+1).</summary>
        public const string EosToken = "grpo.eos_token";
        /// <summary>The id of PAD (V+2).</summary>
        public const string PadToken = "grpo.pad_token";
        /// <summary>A decoder's attention heads.</summary>
        public const string Heads = "grpo.num_heads";
        /// <summary>A decoder's layers (one past/present key and value pair each).</summary>
        public const string Layers = "grpo.num_layers";
        /// <summary>A decoder's position scheme (<see cref="PositionSchemes"/>); absent for <c>from_prompt_start</c>.</summary>
        public const string Positions = "grpo.positions";
        /// <summary>A decoder's per-head width (its cache's last dimension).</summary>
        public const string HeadDim = "grpo.head_dim";
    }
}
