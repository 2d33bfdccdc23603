namespace GrpoPipeline.Service.Features;

/// <summary>The model being served: its contract, shape, provenance and reload state.</summary>
/// <param name="Path">The model file.</param>
/// <param name="LoadedAt">When this model was loaded.</param>
/// <param name="Generation">1 for the model loaded at start, +1 for each reload that was swapped in.</param>
/// <param name="PromptLength">Prompt and response length L.</param>
/// <param name="VocabSize">Vocabulary size V: tokens are 0..V-1.</param>
/// <param name="Policy">Policy architecture recorded at export.</param>
/// <param name="Run">Training run the model was exported from.</param>
/// <param name="Epoch">Training epoch the model was exported at.</param>
/// <param name="Contract">Input and output tensors of the ONNX contract.</param>
/// <param name="Metadata">The model's metadata_props.</param>
/// <param name="Reload">Hot-reload state.</param>
public sealed record ModelInfo(
    string Path,
    DateTimeOffset LoadedAt,
    int Generation,
    int PromptLength,
    int VocabSize,
    string Policy,
    string Run,
    int Epoch,
    ModelContract Contract,
    IReadOnlyDictionary<string, string> Metadata,
    ReloadInfo Reload);

/// <summary>The ONNX interface every GrpoPipeline sorter follows.</summary>
/// <param name="Inputs">Model inputs.</param>
/// <param name="Outputs">Model outputs.</param>
/// <param name="Opset">ONNX operator set the exporter targets.</param>
public sealed record ModelContract(TensorInfo[] Inputs, TensorInfo[] Outputs, int Opset);

/// <summary>One input or output tensor.</summary>
/// <param name="Name">Tensor name.</param>
/// <param name="ElementType">ONNX element type, e.g. int64.</param>
/// <param name="Shape">Dimensions; the symbolic batch dimension is spelled by name.</param>
public sealed record TensorInfo(string Name, string ElementType, string[] Shape);

/// <summary>Hot-reload state.</summary>
/// <param name="Enabled">Whether the model file is watched.</param>
/// <param name="Reloads">Replacement files swapped in since start.</param>
/// <param name="Rejections">Replacement files rejected since start (the previous model kept serving).</param>
/// <param name="LastRejectedAt">When the latest rejection happened.</param>
/// <param name="LastRejection">Why the latest replacement was rejected.</param>
public sealed record ReloadInfo(bool Enabled, int Reloads, int Rejections, DateTimeOffset? LastRejectedAt, string? LastRejection);
