using NUnit.Framework;

namespace GrpoPipeline.Evaluation.Tests;

/// <summary>What the CSV reader accepts.</summary>
[TestFixture]
public sealed class PromptCsvTests
{
    [Test]
    public void Reads_The_Prompt_Column_With_Its_Line_Numbers()
    {
        var path = TestModels.WriteFile("ok.csv", "\uFEFFid,Prompt,note\n1,3 1 2,\"a, b\"\n\n2,\"  0   4\t5 \",\"say \"\"hi\"\"\"\n3,-1 7,\n");
        var prompts = PromptCsv.Read(path);
        Assert.That(prompts.Select(p => p.Line), Is.EqualTo(new[] { 2, 4, 5 }));
        Assert.That(prompts[0].Tokens, Is.EqualTo(new long[] { 3, 1, 2 }));
        Assert.That(prompts[1].Tokens, Is.EqualTo(new long[] { 0, 4, 5 }));
        Assert.That(prompts[2].Tokens, Is.EqualTo(new long[] { -1, 7 }), "range is the model's business, not the reader's");
    }

    [Test]
    public void A_Header_Without_Rows_Fails() =>
        Assert.That(() => PromptCsv.Read(TestModels.WriteFile("empty.csv", "prompt\n\n")),
            Throws.TypeOf<EvaluationException>().With.Message.Contains("no prompts after the header"));

    [Test]
    public void An_Empty_File_Fails() =>
        Assert.That(() => PromptCsv.Read(TestModels.WriteFile("empty.csv", "")),
            Throws.TypeOf<EvaluationException>().With.Message.Contains("empty"));
}
