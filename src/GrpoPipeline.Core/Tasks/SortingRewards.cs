namespace GrpoPipeline.Core;

/// <summary>
/// The verifiable rewards of the sorting task (CS336 lecture 17), on one prompt and one response of any lengths (a
/// response excludes its EOS). For equal lengths they reduce to the lecture's rules, except that a duplicated prompt
/// token is matched once per copy in the response (multiset inclusion).
/// </summary>
public static class SortingRewards
{
    /// <summary>
    /// The lecture's reward with multiset inclusion: +1 for each prompt token matched by a distinct copy in the
    /// response (Σ over values of min(count in prompt, count in response)), plus +1 for each adjacent response pair
    /// with r[i] ≤ r[i+1], counted up to |prompt| − 1 pairs so that a longer response earns nothing more.
    /// At most 2·|prompt| − 1.
    /// </summary>
    public static int InclusionOrdering(ReadOnlySpan<long> prompt, ReadOnlySpan<long> response) =>
        Inclusions(prompt, response) + OrderedPairs(prompt, response);

    /// <summary>
    /// The inclusion part of <see cref="InclusionOrdering"/>: prompt tokens matched by a distinct copy in the response,
    /// Σ over values of min(count in prompt, count in response). At most |prompt|.
    /// </summary>
    public static int Inclusions(ReadOnlySpan<long> prompt, ReadOnlySpan<long> response)
    {
        Span<long> p = prompt.Length <= 256 ? stackalloc long[prompt.Length] : new long[prompt.Length];
        Span<long> r = response.Length <= 256 ? stackalloc long[response.Length] : new long[response.Length];
        prompt.CopyTo(p);
        response.CopyTo(r);
        p.Sort();
        r.Sort();
        int included = 0;
        for (int i = 0, j = 0; i < p.Length && j < r.Length;)
        {
            if (p[i] == r[j]) { included++; i++; j++; }
            else if (p[i] < r[j]) i++;
            else j++;
        }
        return included;
    }

    /// <summary>
    /// The ordering part of <see cref="InclusionOrdering"/>: adjacent response pairs with r[i] ≤ r[i+1], counted up to
    /// |prompt| − 1 so that a longer response earns nothing more.
    /// </summary>
    public static int OrderedPairs(ReadOnlySpan<long> prompt, ReadOnlySpan<long> response)
    {
        int ordered = 0;
        for (int i = 0; i + 1 < response.Length; i++)
            if (response[i] <= response[i + 1]) ordered++;
        return Math.Min(ordered, Math.Max(0, prompt.Length - 1));
    }

    /// <summary>Largest possible <see cref="InclusionOrdering"/> for a prompt of length L: L inclusions + (L−1) ordered pairs.</summary>
    public static int MaxInclusionOrdering(int length) => Math.Max(0, 2 * length - 1);

    /// <summary>
    /// Positions where the response equals the sorted prompt, divided by max(|response|, |prompt|): 1 for the sorted
    /// prompt, less for a wrong token, a missing one or an extra one.
    /// </summary>
    public static double SortDistance(ReadOnlySpan<long> prompt, ReadOnlySpan<long> response)
    {
        Span<long> sorted = prompt.Length <= 256 ? stackalloc long[prompt.Length] : new long[prompt.Length];
        prompt.CopyTo(sorted);
        sorted.Sort();
        return SortDistanceSorted(sorted, response);
    }

    /// <summary><see cref="SortDistance"/> given the prompt already sorted.</summary>
    public static double SortDistanceSorted(ReadOnlySpan<long> sortedPrompt, ReadOnlySpan<long> response) =>
        (double)MatchingPositions(sortedPrompt, response) / Math.Max(1, Math.Max(sortedPrompt.Length, response.Length));

    /// <summary>1 when the response is exactly the sorted prompt, length included, else 0.</summary>
    public static int Exact(ReadOnlySpan<long> prompt, ReadOnlySpan<long> response)
    {
        if (response.Length != prompt.Length) return 0;
        Span<long> sorted = prompt.Length <= 256 ? stackalloc long[prompt.Length] : new long[prompt.Length];
        prompt.CopyTo(sorted);
        sorted.Sort();
        return sorted.SequenceEqual(response) ? 1 : 0;
    }

    /// <summary>Positions where <paramref name="response"/> equals the already sorted prompt.</summary>
    public static int MatchingPositions(ReadOnlySpan<long> sortedPrompt, ReadOnlySpan<long> response)
    {
        int n = Math.Min(sortedPrompt.Length, response.Length), same = 0;
        for (int i = 0; i < n; i++)
            if (sortedPrompt[i] == response[i]) same++;
        return same;
    }
}
