namespace GrpoPipeline.Core.Tests;

/// <summary>The per-response rewards of the sorting task, on the lecture's examples (CS336 lecture 17) and edge cases.</summary>
[TestFixture]
public sealed class SortingRewardsTests
{
    static readonly long[] LecturePrompt = [3, 1, 0, 2];

    // Expected = inclusions (prompt tokens found in the response) + ordered adjacent pairs (r[i] <= r[i+1]).
    [TestCase(new long[] { 0, 1, 2, 3 }, 7, TestName = "InclusionOrdering_Of_The_Sorted_Response_Is_7")]          // 4 + 3
    [TestCase(new long[] { 7, 2, 2, 5 }, 3, TestName = "InclusionOrdering_Of_7_2_2_5_Is_3")]                      // only 2 found: 1; 2<=2, 2<=5: 2
    [TestCase(new long[] { 0, 3, 1, 2 }, 6, TestName = "InclusionOrdering_Of_0_3_1_2_Is_6")]                      // 4; 0<=3, 1<=2: 2
    public void InclusionOrdering_Matches_The_Lecture_Examples(long[] response, int expected)
    {
        Assert.That(SortingRewards.InclusionOrdering(LecturePrompt, response), Is.EqualTo(expected));
    }

    [Test]
    public void InclusionOrdering_Matches_Each_Duplicate_Prompt_Token_With_Its_Own_Copy()
    {
        // Prompt 2, 2, 1 vs response 2, 0, 0: one 2 matches one copy (1), the second 2 and the 1 do not. Pairs: 2<=0
        // no, 0<=0 yes (1). Total 2. (The lecture's code would count both 2s of the prompt against the one 2: 3.)
        Assert.That(SortingRewards.InclusionOrdering([2, 2, 1], [2, 0, 0]), Is.EqualTo(2));
        // 1 and one 2 match (2); 1<=2, 2<=9 (2). Total 4.
        Assert.That(SortingRewards.InclusionOrdering([2, 2, 1], [1, 2, 9]), Is.EqualTo(4));
        // Both 2s matched by two copies: the sorted prompt earns the maximum, 3 + 2.
        Assert.That(SortingRewards.InclusionOrdering([2, 2, 1], [1, 2, 2]), Is.EqualTo(5));
    }

    // Variable lengths, prompt 3, 1, 2 (sorted 1, 2, 3), worked by hand: inclusion (multiset) + ordered pairs capped
    // at |prompt| − 1 = 2; sort distance = positions equal to 1, 2, 3 over max(|response|, |prompt|); exact.
    [TestCase(new long[] { }, 0, 0.0, 0, TestName = "Empty_Response_Earns_Nothing")]
    [TestCase(new long[] { 1, 2 }, 3, 2.0 / 3, 0, TestName = "Shorter_Response_Is_Divided_By_The_Prompt_Length")]                 // 1,2 found; 1 pair
    [TestCase(new long[] { 1, 2, 3, 3 }, 5, 3.0 / 4, 0, TestName = "Longer_Response_Is_Divided_By_Its_Own_Length")]              // 3 found; 3 pairs capped at 2
    [TestCase(new long[] { 1, 1, 1, 1, 1, 1, 1 }, 3, 1.0 / 7, 0, TestName = "A_Long_Constant_Response_Earns_No_Extra_Pairs")]    // 1 found; 6 pairs capped at 2
    [TestCase(new long[] { 1, 2, 3 }, 5, 1.0, 1, TestName = "The_Sorted_Prompt_Earns_Everything")]
    [TestCase(new long[] { 3, 2, 1 }, 3, 1.0 / 3, 0, TestName = "Reversed_Response_Keeps_Its_Middle_Position")]                    // 3 found; no pair
    public void Rewards_On_Variable_Lengths(long[] response, int inclusionOrdering, double sortDistance, int exact)
    {
        long[] prompt = [3, 1, 2];
        Assert.That(SortingRewards.InclusionOrdering(prompt, response), Is.EqualTo(inclusionOrdering));
        Assert.That(SortingRewards.SortDistance(prompt, response), Is.EqualTo(sortDistance).Within(1e-12));
        Assert.That(SortingRewards.Exact(prompt, response), Is.EqualTo(exact));
    }

    // The two parts of InclusionOrdering, prompt 3, 1, 2: multiset inclusions, and ordered pairs capped at |prompt| − 1 = 2.
    [TestCase(new long[] { }, 0, 0)]
    [TestCase(new long[] { 1, 2 }, 2, 1)]
    [TestCase(new long[] { 1, 2, 3, 3 }, 3, 2)]
    [TestCase(new long[] { 1, 1, 1, 1, 1, 1, 1 }, 1, 2)]
    [TestCase(new long[] { 3, 2, 1 }, 3, 0)]
    [TestCase(new long[] { 3, 3, 2, 9 }, 2, 2)]
    public void Inclusions_And_Ordered_Pairs_Are_The_Parts_Of_InclusionOrdering(long[] response, int inclusions, int orderedPairs)
    {
        long[] prompt = [3, 1, 2];
        Assert.That(SortingRewards.Inclusions(prompt, response), Is.EqualTo(inclusions));
        Assert.That(SortingRewards.OrderedPairs(prompt, response), Is.EqualTo(orderedPairs));
        Assert.That(SortingRewards.InclusionOrdering(prompt, response), Is.EqualTo(inclusions + orderedPairs));
    }

    [Test]
    public void A_Truncated_Response_Is_Scored_On_Its_Tokens()
    {
        // A response that reached the cap (maxLength + 1 = 4 for maxLength 3) without EOS: its 4 tokens are scored.
        long[] prompt = [2, 0, 2];
        long[] truncated = [0, 2, 2, 2];
        Assert.That(SortingRewards.InclusionOrdering(prompt, truncated), Is.EqualTo(3 + 2));   // 0, 2, 2 matched; 3 pairs capped at 2
        Assert.That(SortingRewards.SortDistance(prompt, truncated), Is.EqualTo(3.0 / 4));      // 0, 2, 2 in place, over 4
        Assert.That(SortingRewards.Exact(prompt, truncated), Is.Zero);
    }

    [Test]
    public void Duplicates_Need_Every_Copy_For_Exact_And_For_Full_Inclusion()
    {
        long[] prompt = [5, 5, 0, 5];
        Assert.That(SortingRewards.Exact(prompt, [0, 5, 5, 5]), Is.EqualTo(1));
        Assert.That(SortingRewards.Exact(prompt, [0, 5, 5]), Is.Zero, "one copy short");
        Assert.That(SortingRewards.InclusionOrdering(prompt, [0, 5, 5]), Is.EqualTo(3 + 2));
        Assert.That(SortingRewards.SortDistance(prompt, [0, 5, 5]), Is.EqualTo(3.0 / 4));
    }

    [Test]
    public void InclusionOrdering_Is_Zero_For_A_Disjoint_Strictly_Decreasing_Response()
    {
        Assert.That(SortingRewards.InclusionOrdering([0, 1, 2], [9, 8, 7]), Is.EqualTo(0));
    }

    [TestCase(1, 1)]
    [TestCase(3, 5)]
    [TestCase(4, 7)]
    [TestCase(10, 19)]
    public void MaxInclusionOrdering_Is_Two_L_Minus_One(int length, int expected)
    {
        Assert.That(SortingRewards.MaxInclusionOrdering(length), Is.EqualTo(expected));
    }

    [Test]
    public void MaxInclusionOrdering_Is_Reached_By_The_Sorted_Lecture_Prompt()
    {
        Assert.That(SortingRewards.InclusionOrdering(LecturePrompt, [0, 1, 2, 3]),
            Is.EqualTo(SortingRewards.MaxInclusionOrdering(LecturePrompt.Length)));
    }

    // Sorted lecture prompt is 0, 1, 2, 3; each count is divided by 4.
    [TestCase(new long[] { 0, 1, 2, 3 }, 4)]
    [TestCase(new long[] { 0, 3, 1, 2 }, 1)]   // position 0 only
    [TestCase(new long[] { 7, 2, 2, 5 }, 1)]   // position 2 only
    [TestCase(new long[] { 3, 2, 1, 0 }, 0)]
    [TestCase(new long[] { 3, 1, 0, 2 }, 1)]   // the unsorted prompt itself: its 1 is already in place
    public void SortDistance_Is_The_Share_Of_Positions_Equal_To_The_Sorted_Prompt(long[] response, int positions)
    {
        Assert.That(SortingRewards.SortDistance(LecturePrompt, response), Is.EqualTo(positions / 4.0));
    }

    [Test]
    public void SortDistance_Sorts_Duplicates_In_The_Prompt()
    {
        // Sorted 3, 1, 3, 1 is 1, 1, 3, 3: response 1, 3, 3, 3 matches at positions 0, 2 and 3.
        Assert.That(SortingRewards.SortDistance([3, 1, 3, 1], [1, 3, 3, 3]), Is.EqualTo(0.75));
    }

    [Test]
    public void SortDistance_Does_Not_Modify_The_Prompt()
    {
        long[] prompt = [3, 1, 0, 2];
        SortingRewards.SortDistance(prompt, [0, 1, 2, 3]);
        Assert.That(prompt, Is.EqualTo(new long[] { 3, 1, 0, 2 }));
    }

    [Test]
    public void SortDistance_Handles_Prompts_Longer_Than_The_Stack_Buffer()
    {
        // 300 > 256 takes the heap path. Prompt 299..0 sorted is 0..299; the response matches at the even positions.
        var prompt = Enumerable.Range(0, 300).Select(i => (long)(299 - i)).ToArray();
        var response = Enumerable.Range(0, 300).Select(i => i % 2 == 0 ? (long)i : -1).ToArray();
        Assert.That(SortingRewards.SortDistance(prompt, response), Is.EqualTo(0.5));
    }

    [Test]
    public void Exact_Is_One_Only_For_The_Sorted_Prompt()
    {
        Assert.That(SortingRewards.Exact(LecturePrompt, [0, 1, 2, 3]), Is.EqualTo(1));
        Assert.That(SortingRewards.Exact(LecturePrompt, [0, 1, 2, 2]), Is.EqualTo(0));
        Assert.That(SortingRewards.Exact(LecturePrompt, [0, 3, 1, 2]), Is.EqualTo(0));
        Assert.That(SortingRewards.Exact([2, 2, 1], [1, 2, 2]), Is.EqualTo(1));
    }

    [Test]
    public void Exact_Is_Zero_When_The_Response_Length_Differs()
    {
        // The sorted prompt is a prefix of both, but neither is the sorted prompt.
        Assert.That(SortingRewards.Exact(LecturePrompt, [0, 1, 2, 3, 4]), Is.EqualTo(0));
        Assert.That(SortingRewards.Exact(LecturePrompt, [0, 1, 2]), Is.EqualTo(0));
    }
}
