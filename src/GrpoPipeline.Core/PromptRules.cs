namespace GrpoPipeline.Core;

/// <summary>
/// What a model accepts as a prompt: a length in <see cref="MinLength"/>..<see cref="MaxLength"/> and tokens in
/// 0..<see cref="VocabSize"/>−1. The one prompt check of the project: inference, the HTTP service and the evaluation
/// all ask <see cref="Problem"/>, so a bad prompt gets the same message everywhere, naming the index and the value.
/// </summary>
/// <param name="MinLength">Shortest prompt accepted.</param>
/// <param name="MaxLength">Longest prompt accepted (equal to <paramref name="MinLength"/> for fixed-length models).</param>
/// <param name="VocabSize">V: prompt tokens are 0..V−1.</param>
public sealed record PromptRules(int MinLength, int MaxLength, int VocabSize)
{
    /// <summary>Rules of a fixed-length model: exactly <paramref name="length"/> tokens.</summary>
    public static PromptRules Fixed(int length, int vocabSize) => new(length, length, vocabSize);

    /// <summary>
    /// What is wrong with <paramref name="prompt"/> — its length, or the first token out of range with its index and
    /// value — or null when it is fine. Callers add where the prompt came from (a JSON field, a batch row, a CSV line).
    /// </summary>
    public string? Problem(ReadOnlySpan<long> prompt)
    {
        if (prompt.Length < MinLength || prompt.Length > MaxLength)
            return $"prompt has length {prompt.Length}; this model takes prompts of length {LengthRange}";
        for (int i = 0; i < prompt.Length; i++)
            if ((ulong)prompt[i] >= (ulong)VocabSize)
                return $"token at index {i} is {prompt[i]}; tokens must be in 0..{VocabSize - 1}";
        return null;
    }

    /// <summary>The accepted lengths as text: <c>5</c>, or <c>1..8</c>.</summary>
    public string LengthRange => MinLength == MaxLength ? $"{MinLength}" : $"{MinLength}..{MaxLength}";
}
