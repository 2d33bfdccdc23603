using GrpoPipeline.Core;

namespace GrpoPipeline.Inference;

/// <summary>
/// A loaded model's contract as it was checked at load: the <see cref="ContractSpec"/> it follows, the sizes that fix
/// its symbolic dimensions, the prompts it accepts, its task (rebuilt from the metadata when this process knows it),
/// and its provenance from the ONNX metadata.
/// </summary>
public sealed record PolicyContract
{
    /// <summary>The file the model was loaded from.</summary>
    public required string Path { get; init; }
    /// <summary>The contract description (version, inputs, outputs).</summary>
    public required ContractSpec Spec { get; init; }
    /// <summary>Sizes of the symbolic dimensions, e.g. L and V; the batch is never fixed.</summary>
    public required IReadOnlyDictionary<string, long> Sizes { get; init; }
    /// <summary>The prompts the model accepts: lengths and token range.</summary>
    public required PromptRules Prompts { get; init; }
    /// <summary>The model's metadata_props (keys in <see cref="OnnxContract.Metadata"/>).</summary>
    public required IReadOnlyDictionary<string, string> Metadata { get; init; }

    /// <summary>The longest response: L for a factorised policy; a decoder's, EOS included (EOS is not returned).</summary>
    public required int MaxResponseLength { get; init; }
    /// <summary>The model's task, by name (metadata <c>grpo.task</c>).</summary>
    public required string TaskName { get; init; }
    /// <summary>
    /// The model's task, rebuilt from its metadata (<see cref="ModelTask"/>): its prompt rules and rewards. Null when
    /// no task of that name is registered in this process (<see cref="TaskRegistry.Register"/>): the model still
    /// answers, and <see cref="RewardsUnavailable"/> says why there are no rewards.
    /// </summary>
    public VerifiableTask? Task { get; init; }
    /// <summary>Why responses cannot be scored (the task is not registered here); null when they can.</summary>
    public string? RewardsUnavailable { get; init; }
    /// <summary>Whether responses can be scored with the task's rewards.</summary>
    public bool HasRewards => Task is not null;

    /// <summary>
    /// The task's reward components for <paramref name="response"/> to a prompt already checked (<see cref="Problem"/>),
    /// or null when the task is not registered here. <see cref="IPolicy.Score"/> is the checked form.
    /// </summary>
    public RewardScore? Rewards(ReadOnlySpan<long> prompt, ReadOnlySpan<long> response) =>
        Task is { } task ? RewardScore.Of(task, prompt, response) : null;

    /// <summary>
    /// What is wrong with <paramref name="prompt"/> for this model, or null when it takes it: the task's check
    /// (<see cref="VerifiableTask.Problem"/>) when the task is known, else the lengths and token range of <see cref="Prompts"/>.
    /// </summary>
    public string? Problem(ReadOnlySpan<long> prompt) => Task is { } task ? task.Problem(prompt) : Prompts.Problem(prompt);

    /// <summary>The contract version: <c>factorised/1</c> or <c>decoder/1</c>.</summary>
    public string Version => Spec.Version;
    /// <summary>Vocabulary size V: prompt tokens are 0..V−1.</summary>
    public int VocabSize => Prompts.VocabSize;
    /// <summary>
    /// Whether the model decodes token by token (<c>decoder/1</c>: prompts of any length in
    /// <see cref="PromptRules.MinLength"/>..<see cref="PromptRules.MaxLength"/>, responses of varying length) rather
    /// than answering in one pass (<c>factorised/1</c>: one response token per prompt token).
    /// </summary>
    public bool IsDecoder => Version == OnnxContract.DecoderVersion;
    /// <summary>A decoder's special token ids (SEP = V, EOS = V+1, PAD = V+2); null for a factorised policy, which has none.</summary>
    public SpecialTokens? Special => IsDecoder ? SpecialTokens.For(VocabSize) : null;
    /// <summary>
    /// Whether a decoder's <paramref name="response"/> (as returned, without EOS) was cut at the cap before EOS: the
    /// only responses that long. Always false for a factorised policy.
    /// </summary>
    public bool IsTruncated(ReadOnlySpan<long> response) => IsDecoder && response.Length >= MaxResponseLength;
    /// <summary>
    /// A decoder's position scheme (<see cref="OnnxContract.PositionSchemes"/>): how the decode loop numbers the
    /// <c>position_ids</c> it feeds the model. <c>from_prompt_start</c> for a factorised policy, which has none.
    /// </summary>
    public string Positions => Metadata.GetValueOrDefault(OnnxContract.Metadata.Positions, OnnxContract.PositionsFromPromptStart);
    /// <summary>Policy architecture recorded at export, e.g. <c>seed</c> or <c>transformer</c>.</summary>
    public string PolicyKind => Metadata.GetValueOrDefault(OnnxContract.Metadata.Policy, "");
    /// <summary>Training run the model was exported from.</summary>
    public string RunName => Metadata.GetValueOrDefault(OnnxContract.Metadata.Run, "");
    /// <summary>Training epoch the model was exported at.</summary>
    public int Epoch => int.TryParse(Metadata.GetValueOrDefault(OnnxContract.Metadata.Epoch), out var e) ? e : 0;
}
