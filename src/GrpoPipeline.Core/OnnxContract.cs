namespace GrpoPipeline.Core;

/// <summary>
/// The one place that names the exported policy's ONNX interface. Export, inference, the service and the ML.NET
/// evaluation all read these constants; none of them spells a name again.
/// </summary>
public static class OnnxContract
{
    /// <summary>Input: int64 prompts of shape [batch, L].</summary>
    public const string PromptsInput = "prompts";
    /// <summary>Output: float32 logits of shape [batch, L, V].</summary>
    public const string LogitsOutput = "logits";
    /// <summary>Output: int64 greedy responses (argmax over vocab) of shape [batch, L].</summary>
    public const string ResponseOutput = "response";
    /// <summary>Name of the symbolic batch dimension.</summary>
    public const string BatchDim = "batch";

    /// <summary>Element type of <see cref="PromptsInput"/> and <see cref="ResponseOutput"/>.</summary>
    public static readonly Type TokenType = typeof(long);
    /// <summary>Element type of <see cref="LogitsOutput"/>.</summary>
    public static readonly Type LogitType = typeof(float);

    /// <summary>ONNX operator set the exporter targets.</summary>
    public const int Opset = 17;
    /// <summary>ONNX IR version the exporter writes.</summary>
    public const long IrVersion = 8;
    /// <summary>producer_name written into exported models.</summary>
    public const string ProducerName = "GrpoPipeline";

    /// <summary>Keys of the model's metadata_props.</summary>
    public static class Metadata
    {
        public const string Task = "grpo.task";
        public const string Policy = "grpo.policy";
        public const string VocabSize = "grpo.vocab_size";
        public const string PromptLength = "grpo.prompt_length";
        public const string ResponseLength = "grpo.response_length";
        public const string Run = "grpo.run";
        public const string Epoch = "grpo.epoch";
        public const string Config = "grpo.config";
        /// <summary>JSON of the <see cref="TaskOptions"/> that define the held-out split.</summary>
        public const string HeldOutSplit = "grpo.heldout_split";
    }
}
