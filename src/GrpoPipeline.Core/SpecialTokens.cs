namespace GrpoPipeline.Core;

/// <summary>
/// The ids of the special tokens of a variable-length task, fixed right after the values 0..V−1:
/// <c>SEP = V</c> ends the prompt, <c>EOS = V+1</c> ends the response, <c>PAD = V+2</c> fills unused slots. A
/// decoder's input is <c>prompt SEP response</c>; it only ever generates values and EOS.
/// </summary>
/// <param name="Sep">End of prompt, <c>V</c>.</param>
/// <param name="Eos">End of response, <c>V+1</c>.</param>
/// <param name="Pad">Padding, <c>V+2</c>.</param>
public readonly record struct SpecialTokens(long Sep, long Eos, long Pad)
{
    /// <summary>The special tokens of vocabulary size <paramref name="vocab"/>.</summary>
    public static SpecialTokens For(int vocab) => new(vocab, vocab + 1, vocab + 2);

    /// <summary>Every id a decoder's input may hold: values, SEP, EOS and PAD (V+3).</summary>
    public static int InputVocab(int vocab) => vocab + 3;

    /// <summary>The outputs of a decoder's head parameters: the values and EOS (V+1). Its logits, like the exported graph's, are laid out by token id (V+2: SEP's is never generated).</summary>
    public static int OutputVocab(int vocab) => vocab + 1;
}
