using GrpoPipeline.Core;

namespace GrpoPipeline.Inference;

/// <summary>
/// A loaded model's contract as it was checked at load: the <see cref="ContractSpec"/> it follows, the sizes that fix
/// its symbolic dimensions, the prompts it accepts, and its provenance from the ONNX metadata.
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

    /// <summary>The contract version, e.g. <c>sorter/1</c>.</summary>
    public string Version => Spec.Version;
    /// <summary>Vocabulary size V: prompt tokens are 0..V−1.</summary>
    public int VocabSize => Prompts.VocabSize;
    /// <summary>
    /// Whether the model decodes token by token (<c>decoder/1</c>: prompts of any length in
    /// <see cref="PromptRules.MinLength"/>..<see cref="PromptRules.MaxLength"/>, responses of varying length) rather
    /// than answering in one pass (<c>sorter/1</c>: one response token per prompt token).
    /// </summary>
    public bool IsDecoder => Version == OnnxContract.DecoderVersion;
    /// <summary>A decoder's special token ids (SEP = V, EOS = V+1, PAD = V+2); null for a sorter, which has none.</summary>
    public SpecialTokens? Special => IsDecoder ? SpecialTokens.For(VocabSize) : null;
    /// <summary>
    /// The longest response: L for a sorter; maxLength + 1 for a decoder, whose responses end at EOS (not returned)
    /// or are cut at this many tokens.
    /// </summary>
    public int MaxResponseLength => IsDecoder ? Prompts.MaxLength + 1 : Prompts.MaxLength;
    /// <summary>
    /// Whether a decoder's <paramref name="response"/> (as returned, without EOS) was cut at the cap before EOS: the
    /// only responses that long. Always false for a sorter.
    /// </summary>
    public bool IsTruncated(ReadOnlySpan<long> response) => IsDecoder && response.Length >= MaxResponseLength;
    /// <summary>Policy architecture recorded at export, e.g. <c>seed</c> or <c>transformer</c>.</summary>
    public string PolicyKind => Metadata.GetValueOrDefault(OnnxContract.Metadata.Policy, "");
    /// <summary>Training run the model was exported from.</summary>
    public string RunName => Metadata.GetValueOrDefault(OnnxContract.Metadata.Run, "");
    /// <summary>Training epoch the model was exported at.</summary>
    public int Epoch => int.TryParse(Metadata.GetValueOrDefault(OnnxContract.Metadata.Epoch), out var e) ? e : 0;
}
