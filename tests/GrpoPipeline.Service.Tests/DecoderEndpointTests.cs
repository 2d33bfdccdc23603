using System.Net;
using GrpoPipeline.Core;
using GrpoPipeline.Inference;
using NUnit.Framework;

namespace GrpoPipeline.Service.Tests;

/// <summary>
/// The same endpoints serving a decoder (<c>decoder/1</c>, lengths 1..6, V=8): prompts of any allowed length, batches
/// of mixed lengths, sampling, the model description, and 400s that name the field, the index and the value.
/// </summary>
[TestFixture]
public sealed class DecoderEndpointTests
{
    string _dir = null!;
    PolicyServiceFactory _factory = null!;
    HttpClient _client = null!;
    OnnxPolicy _direct = null!;

    [OneTimeSetUp]
    public void StartService()
    {
        _dir = TestModels.NewTempDir("decoder");
        var model = TestModels.ServedCopy(_dir, TestModels.Decoder);
        _factory = new PolicyServiceFactory(model);
        _client = _factory.CreateClient();
        _direct = OnnxPolicy.Load(model);
    }

    [OneTimeTearDown]
    public void StopService()
    {
        _direct.Dispose();
        _client.Dispose();
        _factory.Dispose();
        TestModels.DeleteDir(_dir);
    }

    static readonly long[][] MixedPrompts = [[3], [5, 1], [7, 0, 7], [2, 6, 1, 1], [4, 3, 2, 1, 0], [7, 7, 0, 5, 3, 1], [0, 0]];

    [Test]
    public async Task Model_Describes_The_Decoder_Contract_Its_Lengths_And_Special_Tokens()
    {
        var model = await _client.Model();
        var contract = model.GetProperty("contract");
        using (Assert.EnterMultipleScope())
        {
            Assert.That(contract.GetProperty("kind").GetString(), Is.EqualTo("decoder"));
            Assert.That(contract.GetProperty("version").GetString(), Is.EqualTo(OnnxContract.DecoderVersion));
            Assert.That(model.GetProperty("minPromptLength").GetInt32(), Is.EqualTo(1));
            Assert.That(model.GetProperty("maxPromptLength").GetInt32(), Is.EqualTo(6));
            Assert.That(model.GetProperty("maxResponseLength").GetInt32(), Is.EqualTo(7));
            Assert.That(model.GetProperty("vocabSize").GetInt32(), Is.EqualTo(8));
            var special = model.GetProperty("specialTokens");
            Assert.That((special.GetProperty("sep").GetInt64(), special.GetProperty("eos").GetInt64(), special.GetProperty("pad").GetInt64()), Is.EqualTo((8L, 9L, 10L)));
            var inputs = contract.GetProperty("inputs").EnumerateArray().ToDictionary(i => i.GetProperty("name").GetString()!,
                i => i.GetProperty("shape").EnumerateArray().Select(d => d.GetString()).ToArray());
            Assert.That(inputs.Keys, Is.EqualTo(_direct.Contract.Spec.Inputs.Select(i => i.Name)));
            Assert.That(inputs["past_key_values.1.value"], Is.EqualTo(new[] { "batch", "4", "past_sequence", "8" }));
            Assert.That(inputs["attention_mask"], Is.EqualTo(new[] { "batch", "total_sequence" }));
            var logits = contract.GetProperty("outputs").EnumerateArray().First(o => o.GetProperty("name").GetString() == "logits");
            Assert.That(logits.GetProperty("shape").EnumerateArray().Select(d => d.GetString()), Is.EqualTo(new[] { "batch", "sequence", "10" }));
        }
    }

    [Test]
    public async Task Sort_Answers_Prompts_Of_Every_Length_As_The_Library_Does()
    {
        foreach (var prompt in MixedPrompts)
        {
            var body = await (await _client.PostJson("/v1/sort", new { prompt })).Json();
            var expected = _direct.Respond(prompt);
            Assert.That(body.GetProperty("response").Longs(), Is.EqualTo(expected), $"prompt [{string.Join(",", prompt)}]");
            Assert.That(body.GetProperty("rewards").GetProperty("exact").GetBoolean(), Is.EqualTo(SortingRewards.Exact(prompt, expected) == 1));
            Assert.That(body.GetProperty("truncated").GetBoolean(), Is.EqualTo(expected.Length == 7), "cut at maxLength + 1 tokens without EOS");
        }
    }

    [Test]
    public async Task A_Batch_Of_Mixed_Lengths_Is_Answered_In_Order()
    {
        using var response = await _client.PostJson("/v1/sort/batch", new { prompts = MixedPrompts });
        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.OK));
        var body = await response.Json();
        Assert.That(body.GetProperty("responses").Rows(), Is.EqualTo(MixedPrompts.Select(p => _direct.Respond(p))));
        Assert.That(body.GetProperty("truncated").EnumerateArray().Select(t => t.GetBoolean()), Is.EqualTo(MixedPrompts.Select(p => _direct.Respond(p).Length == 7)));
    }

    [Test]
    public async Task Sample_Draws_What_The_Library_Draws_And_Flags_Truncated_Responses()
    {
        long[] prompt = [6, 2, 4, 0];
        var body = await (await _client.PostJson("/v1/sample", new { prompt, n = 32, temperature = 3.0, seed = 5 })).Json();
        var expected = _direct.Sample(prompt, 32, 3.0, 5);
        Assert.That(body.GetProperty("responses").Rows(), Is.EqualTo(expected));
        var truncated = body.GetProperty("truncated").EnumerateArray().Select(t => t.GetBoolean()).ToArray();
        Assert.That(truncated, Is.EqualTo(expected.Select(r => r.Length == 7)));
        Assert.That(truncated, Has.Some.True, "at temperature 3 some responses run to the cap");
    }

    [TestCase("/v1/sort", """{"prompt":[]}""", "'prompt': prompt has length 0; this model takes prompts of length 1..6")]
    [TestCase("/v1/sort", """{"prompt":[1,2,3,4,5,6,7]}""", "'prompt': prompt has length 7; this model takes prompts of length 1..6")]
    [TestCase("/v1/sort", """{"prompt":[1,8]}""", "'prompt': token at index 1 is 8; tokens must be in 0..7")]
    [TestCase("/v1/sort/batch", """{"prompts":[[1],[2,9,1]]}""", "'prompts[1]': token at index 1 is 9; tokens must be in 0..7")]
    [TestCase("/v1/sample", """{"prompt":[10],"n":2}""", "'prompt': token at index 0 is 10; tokens must be in 0..7")]
    public async Task Bad_Prompts_Get_A_400_Naming_The_Field_Index_And_Value(string path, string json, string detail)
    {
        using var response = await _client.PostAsync(path, new StringContent(json, System.Text.Encoding.UTF8, "application/json"));
        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.BadRequest));
        Assert.That(response.Content.Headers.ContentType?.MediaType, Is.EqualTo("application/problem+json"));
        Assert.That((await response.Json()).GetProperty("detail").GetString(), Is.EqualTo(detail));
    }
}
