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
/// <param name="Version">The value of the model's <see cref="OnnxContract.Metadata.Contract"/> metadata, e.g. <c>sorter/1</c>.</param>
/// <param name="Inputs">Graph inputs.</param>
/// <param name="Outputs">Graph outputs.</param>
public sealed record ContractSpec(string Version, IReadOnlyList<TensorSpec> Inputs, IReadOnlyList<TensorSpec> Outputs);

/// <summary>
/// The ONNX interface of exported policies, as a description (<see cref="Sorter"/>) rather than scattered names: the
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
    /// <c>sorter/1</c>: a factorised policy that answers a prompt in one run, <c>prompts [batch, L]</c> →
    /// <c>logits [batch, L, V]</c> and the greedy <c>response [batch, L]</c>.
    /// </summary>
    public static readonly ContractSpec Sorter = new("sorter/1",
        [new TensorSpec(PromptsInput, TensorElementType.Int64, [BatchDim, LengthDim])],
        [
            new TensorSpec(LogitsOutput, TensorElementType.Float32, [BatchDim, LengthDim, VocabDim]),
            new TensorSpec(ResponseOutput, TensorElementType.Int64, [BatchDim, LengthDim]),
        ]);

    /// <summary>The contracts this build reads, by version.</summary>
    public static readonly IReadOnlyList<ContractSpec> All = [Sorter];

    /// <summary>The sizes that fix a sorter's symbolic dimensions.</summary>
    public static IReadOnlyDictionary<string, long> SorterSizes(int length, int vocab) =>
        new Dictionary<string, long> { [LengthDim] = length, [VocabDim] = vocab };

    /// <summary>ONNX operator set the exporter targets.</summary>
    public const int Opset = 17;
    /// <summary>ONNX IR version the exporter writes.</summary>
    public const long IrVersion = 8;
    /// <summary>producer_name written into exported models.</summary>
    public const string ProducerName = "GrpoPipeline";

    /// <summary>Keys of the model's metadata_props.</summary>
    public static class Metadata
    {
        /// <summary>The contract version, e.g. <c>sorter/1</c>; a model without it is read as <c>sorter/1</c>.</summary>
        public const string Contract = "grpo.contract";
        /// <summary>The task the policy solves: <c>sort</c>.</summary>
        public const string Task = "grpo.task";
        /// <summary>The policy architecture, e.g. <c>seed</c> or <c>transformer</c>.</summary>
        public const string Policy = "grpo.policy";
        /// <summary>V: prompt tokens are 0..V−1.</summary>
        public const string VocabSize = "grpo.vocab_size";
        /// <summary>L, the prompt length of a sorter.</summary>
        public const string PromptLength = "grpo.prompt_length";
        /// <summary>The response length of a sorter (equal to L).</summary>
        public const string ResponseLength = "grpo.response_length";
        /// <summary>The training run's name.</summary>
        public const string Run = "grpo.run";
        /// <summary>The epoch the policy was exported at.</summary>
        public const string Epoch = "grpo.epoch";
        /// <summary>The full training config, as JSON.</summary>
        public const string Config = "grpo.config";
        /// <summary>JSON of the <see cref="TaskOptions"/> that define the held-out split.</summary>
        public const string HeldOutSplit = "grpo.heldout_split";
    }
}
