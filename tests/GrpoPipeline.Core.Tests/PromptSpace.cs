namespace GrpoPipeline.Core.Tests;

/// <summary>Helpers for comparing prompts by content.</summary>
static class PromptSpace
{
    public static string Key(ReadOnlySpan<long> prompt) => string.Join(',', prompt.ToArray());

    /// <summary>Every prompt of length <paramref name="length"/> over tokens 0..<paramref name="vocab"/>−1, in one reused buffer.</summary>
    public static IEnumerable<long[]> All(int length, int vocab)
    {
        var p = new long[length];
        while (true)
        {
            yield return p;
            int i = length - 1;
            while (i >= 0 && p[i] == vocab - 1) p[i--] = 0;
            if (i < 0) yield break;
            p[i]++;
        }
    }
}
