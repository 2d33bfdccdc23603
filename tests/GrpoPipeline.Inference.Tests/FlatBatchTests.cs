using NUnit.Framework;

namespace GrpoPipeline.Inference.Tests;

/// <summary>The allocation-free <c>RespondBatch(ReadOnlySpan, Span)</c> agrees with the array API and validates its buffers.</summary>
[TestFixture]
public sealed class FlatBatchTests
{
    OnnxPolicy _policy = null!;   // the random-task model: L=6, V=12

    [OneTimeSetUp]
    public void Load() => _policy = OnnxPolicy.Load(TestModels.Random);

    [OneTimeTearDown]
    public void Dispose() => _policy.Dispose();

    [Test]
    public void Flat_Batch_Equals_The_Array_Batch()
    {
        var prompts = TestModels.RandomPrompts(300, 6, 12, seed: 41);
        var responses = new long[300 * 6];
        _policy.RespondBatch(prompts.SelectMany(p => p).ToArray(), responses);
        Assert.That(responses, Is.EqualTo(_policy.RespondBatch(prompts).SelectMany(r => r).ToArray()));
    }

    [Test]
    public void A_Partial_Row_Is_Refused()
    {
        var e = Assert.Throws<ArgumentException>(() => _policy.RespondBatch(new long[7], new long[7]));
        Assert.That(e!.Message, Does.Contain("multiple of 6").And.Contain("7"));
    }

    [Test]
    public void A_Short_Response_Buffer_Is_Refused()
    {
        var e = Assert.Throws<ArgumentException>(() => _policy.RespondBatch(new long[12], new long[6]));
        Assert.That(e!.Message, Does.Contain("6").And.Contain("12"));
    }

    [Test]
    public void A_Bad_Token_Names_Its_Row_Index_And_Value()
    {
        var prompts = new long[12];
        prompts[6 + 4] = 12;   // row 1, index 4
        var e = Assert.Throws<ArgumentException>(() => _policy.RespondBatch(prompts, new long[12]));
        Assert.That(e!.Message, Does.Contain("prompt 1").And.Contain("index 4").And.Contain("12"));
    }
}
