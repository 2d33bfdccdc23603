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
    public void InclusionOrdering_Counts_Each_Duplicate_Prompt_Token_Once()
    {
        // Prompt 2, 2, 1: both 2s are found (2), the 1 is not (0). Pairs: 2<=0 no, 0<=0 yes (1). Total 3.
        Assert.That(SortingRewards.InclusionOrdering([2, 2, 1], [2, 0, 0]), Is.EqualTo(3));
        // One copy of 2 in the response satisfies both 2s of the prompt: 3 inclusions + 2 ordered pairs.
        Assert.That(SortingRewards.InclusionOrdering([2, 2, 1], [1, 2, 9]), Is.EqualTo(5));
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

    // Sorted lecture prompt is 0, 1, 2, 3.
    [TestCase(new long[] { 0, 1, 2, 3 }, 4)]
    [TestCase(new long[] { 0, 3, 1, 2 }, 1)]   // position 0 only
    [TestCase(new long[] { 7, 2, 2, 5 }, 1)]   // position 2 only
    [TestCase(new long[] { 3, 2, 1, 0 }, 0)]
    [TestCase(new long[] { 3, 1, 0, 2 }, 1)]   // the unsorted prompt itself: its 1 is already in place
    public void SortDistance_Counts_Positions_Equal_To_The_Sorted_Prompt(long[] response, int expected)
    {
        Assert.That(SortingRewards.SortDistance(LecturePrompt, response), Is.EqualTo(expected));
    }

    [Test]
    public void SortDistance_Sorts_Duplicates_In_The_Prompt()
    {
        // Sorted 3, 1, 3, 1 is 1, 1, 3, 3: response 1, 3, 3, 3 matches at positions 0, 2 and 3.
        Assert.That(SortingRewards.SortDistance([3, 1, 3, 1], [1, 3, 3, 3]), Is.EqualTo(3));
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
        Assert.That(SortingRewards.SortDistance(prompt, response), Is.EqualTo(150));
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
