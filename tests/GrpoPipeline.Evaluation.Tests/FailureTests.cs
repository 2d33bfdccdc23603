using GrpoPipeline.Core;
using GrpoPipeline.Inference;
using NUnit.Framework;

namespace GrpoPipeline.Evaluation.Tests;

/// <summary>Bad input fails with the file (and line) and the reason; prompts a model cannot take are reported.</summary>
[TestFixture]
public sealed class FailureTests
{
    static readonly HeldOutSource Split = HeldOutSource.FromSplit(10);

    [Test]
    public void A_Missing_Model_Throws_FileNotFoundException_Naming_It()
    {
        var path = TestModels.NewPath("missing.onnx");
        Assert.That(() => PolicyEvaluator.Evaluate([TestModels.Trained, path], Split),
            Throws.TypeOf<FileNotFoundException>().With.Message.Contains(path));
    }

    [Test]
    public void A_File_That_Is_Not_Onnx_Is_A_Contract_Mismatch()
    {
        var path = TestModels.WriteFile("text.onnx", "not a model\n");
        Assert.That(() => PolicyEvaluator.Evaluate([path], Split),
            Throws.TypeOf<OnnxContractException>().With.Message.Contains(path).And.Message.Contains("not a loadable ONNX model"));
    }

    [Test]
    public void A_Truncated_Model_Is_A_Contract_Mismatch()
    {
        var bytes = File.ReadAllBytes(TestModels.Trained);
        var path = TestModels.NewPath("truncated.onnx");
        File.WriteAllBytes(path, bytes[..(bytes.Length / 2)]);
        Assert.That(() => PolicyEvaluator.Evaluate([path], Split), Throws.TypeOf<OnnxContractException>());
    }

    [Test]
    public void A_Split_That_Disagrees_With_The_Models_Input_Is_A_Contract_Mismatch()
    {
        // A model of L=4 whose metadata claims a split of L=5 prompts: a same-length edit of the split's JSON.
        var bytes = File.ReadAllBytes(TestModels.Trained);
        var text = System.Text.Encoding.Latin1.GetString(bytes);
        const string length4 = "\"promptLength\": 4";
        Assert.That(text, Does.Contain(length4), "the split metadata spells the prompt length this way");
        var path = TestModels.NewPath("split-l5.onnx");
        File.WriteAllBytes(path, System.Text.Encoding.Latin1.GetBytes(text.Replace(length4, "\"promptLength\": 5")));
        Assert.That(() => PolicyEvaluator.Evaluate([path], Split),
            Throws.TypeOf<OnnxContractException>().With.Message.Contains("L=4").And.Message.Contains("found L=5"));
    }

    [TestCase("prompt\n1 2 3 4\n1 x 3 4\n", 3, "'x', is not an integer")]
    [TestCase("id,prompt\n1,1 2 3 4\n2,1 2 3 4,9\n", 3, "expected 2 field(s) like the header, found 3")]
    [TestCase("id,prompt\n1,1 2 3 4\n\n2,\"1 2 3 4\n", 4, "quoted field is not closed")]
    [TestCase("id,prompt\n1,1 2 3 4\n2,  \n", 3, "the prompt is empty")]
    [TestCase("id,tokens\n1,1 2 3 4\n", 1, "no 'prompt' column")]
    [TestCase("prompt\n1 2 3 4\n9999999999999999999999 1 2 3\n", 3, "is not an integer")]
    public void A_Bad_Csv_Line_Fails_With_The_File_The_Line_Number_And_The_Reason(string csv, int line, string reason)
    {
        var path = TestModels.WriteFile("bad.csv", csv);
        Assert.That(() => PolicyEvaluator.Evaluate([TestModels.Trained], HeldOutSource.FromCsv(path)),
            Throws.TypeOf<EvaluationException>().With.Message.StartsWith($"{path}:{line}: ").And.Message.Contains(reason));
    }

    [Test]
    public void A_Missing_Csv_Fails_Naming_It()
    {
        var path = TestModels.NewPath("missing.csv");
        Assert.That(() => PolicyEvaluator.Evaluate([TestModels.Trained], HeldOutSource.FromCsv(path)),
            Throws.TypeOf<EvaluationException>().With.Message.Contains(path));
    }

    [Test]
    public void Prompts_That_Do_Not_Fit_The_Model_Are_Counted_And_Listed_Not_Dropped()
    {
        var path = TestModels.WriteFile("mixed.csv", "id,prompt\n1,3 1 2 0\n2,1 2 3\n3,\"5 5 0 1\"\n4,1 2 3 6\n5,-1 0 0 0\n");
        var model = PolicyEvaluator.Evaluate([TestModels.Trained], HeldOutSource.FromCsv(path)).Models.Single();

        Assert.That(model.Prompts, Is.EqualTo(2));
        Assert.That(model.InvalidPrompts, Is.EqualTo(3));
        Assert.That(model.Invalid.Select(p => p.Line), Is.EqualTo(new[] { 3, 5, 6 }));
        Assert.That(model.Invalid[0].Reason, Does.Contain("length 3").And.Contain("length 4"));
        Assert.That(model.Invalid[1].Reason, Does.Contain("token at index 3 is 6").And.Contain("0..5"));
        Assert.That(model.Invalid[2].Prompt, Is.EqualTo("-1 0 0 0"));
        Assert.That(new EvaluationReport { Source = "x", Models = [model] }.ToMarkdown(), Does.Contain("| 5 | 1 2 3 6 | token at index 3 is 6"));
    }

    [Test]
    public void A_Model_That_Can_Take_None_Of_The_Prompts_Fails()
    {
        var path = TestModels.WriteFile("short.csv", "prompt\n1 2 3\n");
        Assert.That(() => PolicyEvaluator.Evaluate([TestModels.Trained], HeldOutSource.FromCsv(path)),
            Throws.TypeOf<EvaluationException>().With.Message.Contains("none of the 1 prompts").And.Message.Contains("line 2"));
    }

    [Test]
    public void A_Split_Count_Outside_The_Limits_Is_Refused() =>
        Assert.That(() => HeldOutSource.FromSplit(0), Throws.TypeOf<ArgumentOutOfRangeException>());

    [Test]
    public void Prompts_Per_Row_Outside_The_Limits_Is_A_Config_Error() =>
        Assert.That(() => PolicyEvaluator.Evaluate([TestModels.Trained], Split, new EvaluatorOptions { PromptsPerRow = 0 }),
            Throws.TypeOf<ConfigException>().With.Message.Contains("promptsPerRow"));
}
