using GrpoPipeline.Core;

namespace GrpoPipeline.Service.Features;

/// <summary>The model being served: its contract, accepted prompts, provenance and reload state.</summary>
/// <param name="Path">The model file.</param>
/// <param name="LoadedAt">When this model was loaded.</param>
/// <param name="Generation">1 for the model loaded at start, +1 for each reload that was swapped in.</param>
/// <param name="Contract">The ONNX contract the model follows, with its tensors' shapes.</param>
/// <param name="MinPromptLength">Shortest prompt accepted.</param>
/// <param name="MaxPromptLength">Longest prompt accepted.</param>
/// <param name="MaxResponseLength">Longest response: L for a factorised policy; a decoder's, EOS included (cut there without EOS).</param>
/// <param name="VocabSize">Vocabulary size V: prompt tokens are 0..V-1.</param>
/// <param name="SpecialTokens">A decoder's SEP (V), EOS (V+1) and PAD (V+2) ids; null for a factorised policy.</param>
/// <param name="Task">The task the model was trained on, and whether this service can score its responses.</param>
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
    TaskInfo Task,
    string Policy,
    string Run,
    int Epoch,
    IReadOnlyDictionary<string, string> Metadata,
    ReloadInfo Reload);

/// <summary>An ONNX contract as the model follows it.</summary>
/// <param name="Kind"><c>factorised</c> (one run answers a prompt of length L) or <c>decoder</c> (token by token, any allowed length).</param>
/// <param name="Version">Contract version, <c>factorised/1</c> or <c>decoder/1</c>.</param>
/// <param name="Inputs">Model inputs.</param>
/// <param name="Outputs">Model outputs.</param>
/// <param name="Opset">ONNX operator set the exporter targets.</param>
public sealed record ContractInfo(string Kind, string Version, TensorInfo[] Inputs, TensorInfo[] Outputs, int Opset);

/// <summary>The served model's task.</summary>
/// <param name="Name">Its registered name (metadata <c>grpo.task</c>), e.g. <c>sort</c>, <c>reverse</c>, <c>add</c>.</param>
/// <param name="RewardsAvailable">Whether this service knows the task, and so scores responses; when false, answers carry <c>rewards: null</c>.</param>
/// <param name="RewardsUnavailable">Why rewards are unavailable; null when they are available.</param>
/// <param name="Components">The reward components, in the order of every answer's <c>rewards.components</c>; empty when unavailable.</param>
/// <param name="Tokens">How each prompt token reads (index = token id), e.g. <c>+</c> and <c>=</c> for addition; empty when unavailable.</param>
public sealed record TaskInfo(string Name, bool RewardsAvailable, string? RewardsUnavailable, RewardComponentInfo[] Components, string[] Tokens);

/// <summary>One reward component of the served model's task.</summary>
/// <param name="Name">Its name, as in the config's <c>rewards</c> and the answers' <c>rewards.components</c>.</param>
/// <param name="Description">What it measures.</param>
public sealed record RewardComponentInfo(string Name, string Description);

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
