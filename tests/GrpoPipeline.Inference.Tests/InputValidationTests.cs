using NUnit.Framework;

namespace GrpoPipeline.Inference.Tests;

/// <summary>Bad prompts never reach ONNX Runtime: they fail with an ArgumentException naming the index and value.</summary>
[TestFixture]
public sealed class InputValidationTests
{
    OnnxPolicy _policy = null!;   // the lecture model: L=3, V=5

    [OneTimeSetUp]
    public void Load() => _policy = OnnxPolicy.Load(TestModels.Lecture);

    [OneTimeTearDown]
    public void Dispose() => _policy.Dispose();

    [Test]
    public void Prompt_Of_The_Wrong_Length_Names_Both_Lengths()
    {
        Assert.That(() => _policy.Respond([1, 2]), Throws.ArgumentException
            .With.Message.Contains("length 2").And.Message.Contains("length 3").And.Property("ParamName").EqualTo("prompt"));
        Assert.That(() => _policy.Logits([1, 2, 3, 4]), Throws.ArgumentException
            .With.Message.Contains("length 4").And.Message.Contains("length 3"));
        Assert.That(() => _policy.Respond([]), Throws.ArgumentException.With.Message.Contains("length 0"));
    }

    [Test]
    public void Token_Above_The_Vocabulary_Names_Its_Index_And_Value()
    {
        Assert.That(() => _policy.Respond([1, 5, 2]), Throws.ArgumentException
            .With.Message.Contains("index 1 is 5").And.Message.Contains("0..4"));
        Assert.That(() => _policy.Logits([0, 0, long.MaxValue]), Throws.ArgumentException
            .With.Message.Contains($"index 2 is {long.MaxValue}"));
    }

    [Test]
    public void Negative_Token_Names_Its_Index_And_Value() =>
        Assert.That(() => _policy.Respond([-1, 0, 0]), Throws.ArgumentException
            .With.Message.Contains("index 0 is -1").And.Message.Contains("0..4"));

    [Test]
    public void Bad_Prompt_In_A_Batch_Names_The_Prompt_Its_Index_And_Value()
    {
        long[][] batch = [[0, 1, 2], [3, 4, 0], [0, 9, 1]];
        Assert.That(() => _policy.RespondBatch(batch), Throws.ArgumentException
            .With.Message.Contains("prompt 2").And.Message.Contains("index 1 is 9"));
        Assert.That(() => _policy.LogitsBatch([[0, 1, 2], [1, 2]]), Throws.ArgumentException
            .With.Message.Contains("prompt 1").And.Message.Contains("length 2"));
        Assert.That(() => _policy.RespondBatch([[0, 1, 2], null!]), Throws.ArgumentException
            .With.Message.Contains("prompt 1 is null"));
    }

    [Test]
    public void Empty_Batch_Is_Refused()
    {
        Assert.That(() => _policy.RespondBatch([]), Throws.ArgumentException.With.Message.Contains("empty"));
        Assert.That(() => _policy.LogitsBatch([]), Throws.ArgumentException.With.Message.Contains("empty"));
        Assert.That(() => _policy.RespondBatch(null!), Throws.ArgumentNullException);
    }

    [Test]
    public void Sample_Refuses_Bad_Prompts_Counts_And_Temperatures()
    {
        Assert.That(() => _policy.Sample([0, 7, 1], 4), Throws.ArgumentException.With.Message.Contains("index 1 is 7"));
        Assert.That(() => _policy.Sample([0, 1, 2], 0), Throws.TypeOf<ArgumentOutOfRangeException>().With.Property("ParamName").EqualTo("n"));
        Assert.That(() => _policy.Sample([0, 1, 2], 4097), Throws.TypeOf<ArgumentOutOfRangeException>().With.Property("ParamName").EqualTo("n"));
        Assert.That(() => _policy.Sample([0, 1, 2], 4, temperature: 0), Throws.TypeOf<ArgumentOutOfRangeException>().With.Property("ParamName").EqualTo("temperature"));
        Assert.That(() => _policy.Sample([0, 1, 2], 4, temperature: double.NaN), Throws.TypeOf<ArgumentOutOfRangeException>().With.Property("ParamName").EqualTo("temperature"));
    }

    [Test]
    public void Score_Refuses_A_Response_Of_The_Wrong_Length()
    {
        Assert.That(() => _policy.Score([3, 1, 2], [1, 2]), Throws.ArgumentException
            .With.Message.Contains("length 2").And.Message.Contains("length 3").And.Property("ParamName").EqualTo("response"));
        Assert.That(() => _policy.Score([3, 1, 2], [1, 2, 3, 4]), Throws.ArgumentException.With.Property("ParamName").EqualTo("response"));
        Assert.That(() => _policy.Score([3, 1, 8], [1, 2, 3]), Throws.ArgumentException.With.Message.Contains("index 2 is 8"));
    }

    [Test]
    public void The_Policy_Still_Works_After_Refusing_Bad_Input()
    {
        Assert.That(() => _policy.Respond([9, 9, 9]), Throws.ArgumentException);
        Assert.That(_policy.Respond([3, 1, 2]), Has.Length.EqualTo(3).And.All.InRange(0L, 4L));
    }
}
