using GrpoPipeline.Core;

namespace GrpoPipeline.Service.Features;

/// <summary>The model being served: its contract, accepted prompts, provenance and reload state.</summary>
/// <param name="Path">The model file.</param>
/// <param name="LoadedAt">When this model was loaded.</param>
/// <param name="Generation">1 for the model loaded at start, +1 for each reload that was swapped in.</param>
/// <param name="Contract">The ONNX contract the model follows, with its tensors' shapes.</param>
/// <param name="MinPromptLength">Shortest prompt accepted.</param>
/// <param name="MaxPromptLength">Longest prompt accepted.</param>
/// <param name="MaxResponseLength">Longest response: L for a sorter, maxLength + 1 for a decoder (cut there without EOS).</param>
/// <param name="VocabSize">Vocabulary size V: prompt tokens are 0..V-1.</param>
/// <param name="SpecialTokens">A decoder's SEP (V), EOS (V+1) and PAD (V+2) ids; null for a sorter.</param>
/// <param name="Policy">Policy architecture recorded at export.</param>
/// <param name="Run">Training run the model was exported from.</param>
/// <param name="Epoch">Training epoch the model was exported at.</param>
/// <param name="Metadata">The model's metadata_props.</param>
/// <param name="Reload">Hot-reload state.</param>
public sealed record ModelInfo(
    string Path,
    DateTimeOffset LoadedAt,
    int Generation,
    ContractInfo Contract,
    int MinPromptLength,
    int MaxPromptLength,
    int MaxResponseLength,
    int VocabSize,
    SpecialTokens? SpecialTokens,
    string Policy,
    string Run,
    int Epoch,
    IReadOnlyDictionary<string, string> Metadata,
    ReloadInfo Reload);

/// <summary>An ONNX contract as the model follows it.</summary>
/// <param name="Kind"><c>sorter</c> (one run answers a prompt of length L) or <c>decoder</c> (token by token, any allowed length).</param>
/// <param name="Version">Contract version, e.g. <c>sorter/1</c> or <c>decoder/1</c>.</param>
/// <param name="Inputs">Model inputs.</param>
/// <param name="Outputs">Model outputs.</param>
/// <param name="Opset">ONNX operator set the exporter targets.</param>
public sealed record ContractInfo(string Kind, string Version, TensorInfo[] Inputs, TensorInfo[] Outputs, int Opset);

/// <summary>One input or output tensor.</summary>
/// <param name="Name">Tensor name.</param>
/// <param name="ElementType">Element type, e.g. int64.</param>
/// <param name="Shape">Dimensions; symbolic ones (the batch) are spelled by name.</param>
public sealed record TensorInfo(string Name, string ElementType, string[] Shape);

/// <summary>Hot-reload state.</summary>
/// <param name="Enabled">Whether the model file is watched.</param>
/// <param name="Reloads">Replacement files swapped in since start.</param>
/// <param name="Rejections">Replacement files rejected since start (the previous model kept serving).</param>
/// <param name="LastRejectedAt">When the latest rejection happened.</param>
/// <param name="LastRejection">Why the latest replacement was rejected.</param>
public sealed record ReloadInfo(bool Enabled, int Reloads, int Rejections, DateTimeOffset? LastRejectedAt, string? LastRejection);
