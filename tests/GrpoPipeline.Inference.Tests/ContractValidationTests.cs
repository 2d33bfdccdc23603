using GrpoPipeline.Core;
using NUnit.Framework;

namespace GrpoPipeline.Inference.Tests;

/// <summary>
/// <see cref="OnnxPolicy.Load"/> refuses anything that is not a GrpoPipeline sorter, and says what it expected and
/// what it found.
/// </summary>
[TestFixture]
public sealed class ContractValidationTests
{
    byte[] _valid = null!;

    [OneTimeSetUp]
    public void ReadValidModel() => _valid = File.ReadAllBytes(TestModels.Random);

    static string Write(byte[] bytes, string name)
    {
        var path = TestModels.NewPath(name);
        File.WriteAllBytes(path, bytes);
        return path;
    }

    static OnnxContractException LoadFails(string path)
    {
        OnnxContractException? caught = null;
        Assert.That(() =>
        {
            try { OnnxPolicy.Load(path).Dispose(); }
            catch (OnnxContractException e) { caught = e; throw; }
        }, Throws.TypeOf<OnnxContractException>());
        Assert.That(caught!.Message, Does.Contain(path), "the message names the file");
        return caught;
    }

    [Test]
    public void The_Unedited_Model_Loads()
    {
        using var policy = OnnxPolicy.Load(Write(_valid, "valid.onnx"));
        Assert.That(policy.Respond(new long[6]), Has.Length.EqualTo(6));
    }

    [Test]
    public void Missing_File_Throws_FileNotFoundException()
    {
        var path = TestModels.NewPath("missing.onnx");
        Assert.That(() => OnnxPolicy.Load(path),
            Throws.TypeOf<FileNotFoundException>().With.Property(nameof(FileNotFoundException.FileName)).EqualTo(path));
    }

    [Test]
    public void Truncated_Model_Is_Not_Loadable()
    {
        var e = LoadFails(Write(_valid[..(_valid.Length / 2)], "truncated.onnx"));
        Assert.That(e.Message, Does.Contain("not a loadable ONNX model"));
        Assert.That(e.InnerException, Is.Not.Null, "the ONNX Runtime error is kept as the inner exception");
    }

    [Test]
    public void Text_File_Is_Not_Loadable()
    {
        var e = LoadFails(Write("this is not an ONNX model\n"u8.ToArray(), "text.onnx"));
        Assert.That(e.Message, Does.Contain("not a loadable ONNX model"));
    }

    [Test]
    public void Empty_File_Is_Not_Loadable() =>
        Assert.That(LoadFails(Write([], "empty.onnx")).Message, Does.Contain("not a loadable ONNX model"));

    [Test]
    public void Renamed_Input_Names_The_Expected_And_The_Found_Input()
    {
        var e = LoadFails(Write(OnnxBytes.ReplaceAll(_valid, "prompts", "promptz"), "promptz.onnx"));
        Assert.That(e.Message, Does.Contain($"expected input '{OnnxContract.PromptsInput}' int64 [batch, 6]"));
        Assert.That(e.Message, Does.Contain("found inputs 'promptz'"));
    }

    [Test]
    public void Renamed_Response_Output_Names_The_Expected_And_The_Found_Outputs()
    {
        var e = LoadFails(Write(OnnxBytes.ReplaceAll(_valid, "response", "responsE"), "responsE.onnx"));
        Assert.That(e.Message, Does.Contain($"expected output '{OnnxContract.ResponseOutput}' int64 [batch, 6]"));
        Assert.That(e.Message, Does.Contain("'responsE'").And.Contain($"'{OnnxContract.LogitsOutput}'"));
    }

    [Test]
    public void Missing_Vocab_Size_Metadata_Names_The_Key()
    {
        var e = LoadFails(Write(OnnxBytes.ReplaceAll(_valid, OnnxContract.Metadata.VocabSize, "grpo.vocab_sizX"), "no-vocab.onnx"));
        Assert.That(e.Message, Does.Contain($"expected metadata '{OnnxContract.Metadata.VocabSize}'"));
        Assert.That(e.Message, Does.Contain("found no such key"));
    }

    [Test]
    public void Prompt_Length_Metadata_That_Disagrees_With_The_Graph_Names_Both_Lengths()
    {
        var e = LoadFails(Write(OnnxBytes.ReplaceMetadataValue(_valid, OnnxContract.Metadata.PromptLength, "7"), "length-7.onnx"));
        Assert.That(e.Message, Does.Contain($"expected input '{OnnxContract.PromptsInput}' int64 [batch, 7]"));
        Assert.That(e.Message, Does.Contain("found dimension 1 = 6"));
    }

    [Test]
    public void A_Model_Of_A_Task_This_Process_Does_Not_Know_Loads_Without_Rewards()
    {
        using var policy = OnnxPolicy.Load(Write(OnnxBytes.ReplaceMetadataValue(_valid, OnnxContract.Metadata.Task, "echo"), "echo.onnx"));
        Assert.That((policy.Contract.TaskName, policy.Contract.HasRewards), Is.EqualTo(("echo", false)));
        Assert.That(policy.Respond(new long[6]), Has.Length.EqualTo(6));
        Assert.That(policy.Score(new long[6], new long[6]), Is.Null);
    }

    [Test]
    public void Task_Options_That_Disagree_With_The_Graph_Are_A_Contract_Mismatch()
    {
        var e = LoadFails(Write(OnnxBytes.ReplaceAll(_valid, "\"promptLength\": 6", "\"promptLength\": 5"), "task-l5.onnx"));
        Assert.That(e.Message, Does.Contain("expected its task 'sort' to take the prompts its input takes (L=6, V=12)").And.Contain("found L=5, V=12"));
    }

    [Test]
    public void Vocab_Size_Metadata_That_Disagrees_With_The_Graph_Names_Both_Sizes()
    {
        var e = LoadFails(Write(OnnxBytes.ReplaceMetadataValue(_valid, OnnxContract.Metadata.VocabSize, "13"), "vocab-13.onnx"));
        Assert.That(e.Message, Does.Contain($"expected output '{OnnxContract.LogitsOutput}' float32 [batch, 6, 13]"));
        Assert.That(e.Message, Does.Contain("found dimension 2 = 12"));
    }

    [Test]
    public void Non_Integer_Vocab_Size_Metadata_Names_The_Value()
    {
        var e = LoadFails(Write(OnnxBytes.ReplaceMetadataValue(_valid, OnnxContract.Metadata.VocabSize, "xy"), "vocab-xy.onnx"));
        Assert.That(e.Message, Does.Contain($"expected metadata '{OnnxContract.Metadata.VocabSize}' to be a positive integer"));
        Assert.That(e.Message, Does.Contain("found 'xy'"));
    }

    [Test]
    public void A_Valid_Model_That_Is_Not_A_Sorter_Is_Refused_For_Its_Missing_Metadata()
    {
        // Sanity: the hand-built file is a loadable ONNX model, so the refusal below is the contract's, not ORT's.
        var bytes = OnnxBytes.IdentityModel("x", "y", OnnxBytes.Float, 3);
        using (var session = new Microsoft.ML.OnnxRuntime.InferenceSession(bytes))
            Assert.That(session.InputMetadata.Keys, Is.EqualTo(new[] { "x" }));

        var e = LoadFails(Write(bytes, "identity.onnx"));
        Assert.That(e.Message, Does.Contain($"expected metadata '{OnnxContract.Metadata.PromptLength}'"));
        Assert.That(e.Message, Does.Contain("no such key"));
    }

    [Test]
    public void Float_Prompts_Are_Refused_Naming_Both_Element_Types()
    {
        var e = LoadFails(Write(OnnxBytes.IdentityModel(OnnxContract.PromptsInput, OnnxContract.LogitsOutput, OnnxBytes.Float, 3,
            (OnnxContract.Metadata.PromptLength, "3"), (OnnxContract.Metadata.VocabSize, "5")), "float-prompts.onnx"));
        Assert.That(e.Message, Does.Contain($"expected input '{OnnxContract.PromptsInput}' int64 [batch, 3]"));
        Assert.That(e.Message, Does.Contain("found ONNX_TYPE_TENSOR Float of rank 2"));
    }

    [Test]
    public void A_Model_Without_Logits_Is_Refused_Naming_The_Outputs_It_Has()
    {
        var e = LoadFails(Write(OnnxBytes.IdentityModel(OnnxContract.PromptsInput, OnnxContract.ResponseOutput, OnnxBytes.Int64, 3,
            (OnnxContract.Metadata.PromptLength, "3"), (OnnxContract.Metadata.VocabSize, "5")), "no-logits.onnx"));
        Assert.That(e.Message, Does.Contain($"expected output '{OnnxContract.LogitsOutput}' float32 [batch, 3, 5]"));
        Assert.That(e.Message, Does.Contain($"found outputs '{OnnxContract.ResponseOutput}'"));
    }

    [Test]
    public void A_Model_Without_Contract_Metadata_Is_Read_As_A_Sorter()
    {
        // Models exported before the key existed carry no grpo.contract.
        using var policy = OnnxPolicy.Load(Write(OnnxBytes.ReplaceAll(_valid, OnnxContract.Metadata.Contract, "grpo.contracX"), "no-contract.onnx"));
        Assert.That(policy.Contract.Version, Is.EqualTo(OnnxContract.Factorised.Version));
        Assert.That(policy.Respond(new long[6]), Has.Length.EqualTo(6));
    }

    [Test]
    public void An_Unknown_Contract_Version_Is_Refused_Naming_The_Known_Ones()
    {
        var e = LoadFails(Write(OnnxBytes.ReplaceMetadataValue(_valid, OnnxContract.Metadata.Contract, "factorised/9"), "factorised-9.onnx"));
        Assert.That(e.Message, Does.Contain($"expected metadata '{OnnxContract.Metadata.Contract}' to be one of factorised/1, decoder/1, sorter/1"));
        Assert.That(e.Message, Does.Contain("found 'factorised/9'"));
    }

    [Test]
    public void The_Loaded_Contract_Describes_The_Graph_From_The_Contract_Description()
    {
        using var policy = OnnxPolicy.Load(TestModels.Random);
        var c = policy.Contract;
        using var session = new Microsoft.ML.OnnxRuntime.InferenceSession(TestModels.Random);
        using (Assert.EnterMultipleScope())
        {
            Assert.That(c.Spec, Is.SameAs(OnnxContract.Factorised));
            Assert.That(c.Prompts, Is.EqualTo(PromptRules.Fixed(6, 12)));
            Assert.That(c.Spec.Inputs.Select(t => t.Name), Is.EqualTo(session.InputMetadata.Keys));
            Assert.That(c.Spec.Outputs.Select(t => t.Name), Is.EquivalentTo(session.OutputMetadata.Keys));
            foreach (var output in c.Spec.Outputs)
                Assert.That(session.OutputMetadata[output.Name].Dimensions, Is.EqualTo(output.Resolve(c.Sizes).Select(d => (int)(d ?? -1))));
            Assert.That(c.Spec.Outputs.Single(o => o.Name == OnnxContract.LogitsOutput).Shape(c.Sizes), Is.EqualTo(new[] { "batch", "6", "12" }));
            Assert.That((c.RunName, c.Epoch, c.PolicyKind), Is.EqualTo(("fixture-random", 300, "seed")));
        }
    }

    // decoder/1: the same checks over its inputs, outputs and metadata.

    [Test]
    public void A_Decoder_Without_One_Of_Its_Cache_Inputs_Is_Refused_Naming_It()
    {
        var e = LoadFails(Write(OnnxBytes.ReplaceAll(File.ReadAllBytes(TestModels.Decoder), "past_key_values.1.value", "past_key_values.1.valuX"), "no-past.onnx"));
        Assert.That(e.Message, Does.Contain("expected input 'past_key_values.1.value' float32 [batch, 4, past_sequence, 8]"));
        Assert.That(e.Message, Does.Contain("'past_key_values.1.valuX'"));
    }

    [Test]
    public void A_Decoder_Whose_Heads_Metadata_Disagrees_With_Its_Cache_Shape_Names_Both()
    {
        var e = LoadFails(Write(OnnxBytes.ReplaceMetadataValue(File.ReadAllBytes(TestModels.Decoder), OnnxContract.Metadata.Heads, "2"), "heads-2.onnx"));
        Assert.That(e.Message, Does.Contain("expected input 'past_key_values.0.key' float32 [batch, 2, past_sequence, 8]"));
        Assert.That(e.Message, Does.Contain("found dimension 1 = 4"));
    }

    [Test]
    public void A_Decoder_Whose_Logits_Are_Not_V_Plus_2_Wide_Is_Refused()
    {
        var e = LoadFails(Write(OnnxBytes.ReplaceMetadataValue(File.ReadAllBytes(TestModels.Decoder), OnnxContract.Metadata.VocabSize, "9"), "vocab-9.onnx"));
        Assert.That(e.Message, Does.Contain("expected metadata 'grpo.sep_token' = 9 (fixed after the vocabulary), found '8'"));
    }

    [Test]
    public void A_Decoder_Whose_Special_Tokens_Are_Not_The_Fixed_Ones_Is_Refused()
    {
        var e = LoadFails(Write(OnnxBytes.ReplaceMetadataValue(File.ReadAllBytes(TestModels.Decoder), OnnxContract.Metadata.EosToken, "3"), "eos-3.onnx"));
        Assert.That(e.Message, Does.Contain($"expected metadata '{OnnxContract.Metadata.EosToken}' = 9 (fixed after the vocabulary), found '3'"));
    }

    [Test]
    public void A_Decoder_Without_Its_Layer_Count_Is_Refused_Naming_The_Key()
    {
        var e = LoadFails(Write(OnnxBytes.ReplaceAll(File.ReadAllBytes(TestModels.Decoder), OnnxContract.Metadata.Layers, "grpo.num_layerZ"), "no-layers.onnx"));
        Assert.That(e.Message, Does.Contain($"expected metadata '{OnnxContract.Metadata.Layers}', found no such key"));
    }

    [Test]
    public void A_Decoder_Whose_Min_Length_Exceeds_Its_Max_Is_Refused()
    {
        var e = LoadFails(Write(OnnxBytes.ReplaceMetadataValue(File.ReadAllBytes(TestModels.Decoder), OnnxContract.Metadata.MinLength, "7"), "min-7.onnx"));
        Assert.That(e.Message, Does.Contain($"expected metadata '{OnnxContract.Metadata.MinLength}' ≤ '{OnnxContract.Metadata.MaxLength}' (6), found 7"));
    }

    [Test]
    public void A_Model_Claiming_To_Be_A_Decoder_Is_Refused_For_The_Decoder_Metadata_It_Lacks()
    {
        var e = LoadFails(Write(OnnxBytes.IdentityModel(OnnxContract.InputIds, OnnxContract.LogitsOutput, OnnxBytes.Int64, 3,
            (OnnxContract.Metadata.Contract, OnnxContract.DecoderVersion), (OnnxContract.Metadata.VocabSize, "5")), "fake-decoder.onnx"));
        Assert.That(e.Message, Does.Contain($"expected metadata '{OnnxContract.Metadata.MinLength}', found no such key"));
    }
}
