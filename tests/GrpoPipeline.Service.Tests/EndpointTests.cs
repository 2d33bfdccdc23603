using System.Net;
using GrpoPipeline.Core;
using GrpoPipeline.Inference;
using NUnit.Framework;

namespace GrpoPipeline.Service.Tests;

/// <summary>The happy paths: what the endpoints return for good requests, checked against the model run directly.</summary>
[TestFixture]
public sealed class EndpointTests
{
    string _dir = null!;
    string _model = null!;
    PolicyServiceFactory _factory = null!;
    HttpClient _client = null!;
    OnnxPolicy _direct = null!;

    static IEnumerable<long[]> AllPrompts()
    {
        for (long a = 0; a < 5; a++)
            for (long b = 0; b < 5; b++)
                for (long c = 0; c < 5; c++)
                    yield return [a, b, c];
    }

    [OneTimeSetUp]
    public void StartService()
    {
        _dir = TestModels.NewTempDir("endpoints");
        _model = TestModels.ServedCopy(_dir, TestModels.Lecture);
        _factory = new PolicyServiceFactory(_model);
        _client = _factory.CreateClient();
        _direct = OnnxPolicy.Load(_model);
    }

    [OneTimeTearDown]
    public void StopService()
    {
        _direct.Dispose();
        _client.Dispose();
        _factory.Dispose();
        TestModels.DeleteDir(_dir);
    }

    [Test]
    public async Task Sort_Returns_The_Models_Greedy_Response_And_Its_Rewards()
    {
        foreach (var prompt in new long[][] { [3, 1, 2], [1, 0, 2], [4, 4, 0], [0, 1, 2] })
        {
            using var response = await _client.PostJson("/v1/respond", new { prompt });
            Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.OK));
            Assert.That(response.Content.Headers.ContentType?.MediaType, Is.EqualTo("application/json"));
            var body = await response.Json();

            var expected = _direct.Respond(prompt);
            Assert.That(body.GetProperty("response").Longs(), Is.EqualTo(expected), $"prompt [{string.Join(",", prompt)}]");
            AssertRewards(body.GetProperty("rewards"), prompt, expected);
        }
    }

    [Test]
    public async Task Sort_Batch_Matches_Sorting_Each_Prompt_Directly()
    {
        var prompts = AllPrompts().ToArray();
        using var response = await _client.PostJson("/v1/respond/batch", new { prompts });
        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.OK));
        var body = await response.Json();

        var responses = body.GetProperty("responses").Rows();
        var rewards = body.GetProperty("rewards").EnumerateArray().ToArray();
        Assert.That(responses, Has.Length.EqualTo(prompts.Length));
        Assert.That(rewards, Has.Length.EqualTo(prompts.Length));
        for (int i = 0; i < prompts.Length; i++)
        {
            var expected = _direct.Respond(prompts[i]);
            Assert.That(responses[i], Is.EqualTo(expected), $"prompt {i}");
            AssertRewards(rewards[i], prompts[i], expected);
        }
    }

    [Test]
    public async Task Sample_Is_Deterministic_For_A_Seed_And_Matches_The_Policy()
    {
        long[] prompt = [3, 1, 2];
        var first = await (await _client.PostJson("/v1/sample", new { prompt, n = 8, temperature = 1.0, seed = 1 })).Json();
        var second = await (await _client.PostJson("/v1/sample", new { prompt, n = 8, temperature = 1.0, seed = 1 })).Json();

        var responses = first.GetProperty("responses").Rows();
        Assert.That(responses, Has.Length.EqualTo(8));
        Assert.That(second.GetProperty("responses").Rows(), Is.EqualTo(responses), "same seed, different responses");
        Assert.That(responses, Is.EqualTo(_direct.Sample(prompt, 8, 1.0, 1)));
        var rewards = first.GetProperty("rewards").EnumerateArray().ToArray();
        for (int i = 0; i < responses.Length; i++) AssertRewards(rewards[i], prompt, responses[i]);
        Assert.That(first.GetProperty("seed").GetUInt64(), Is.EqualTo(1UL));
    }

    [Test]
    public async Task Sample_Without_A_Seed_Echoes_One_That_Reproduces_The_Draw()
    {
        long[] prompt = [4, 0, 2];
        var drawn = await (await _client.PostJson("/v1/sample", new { prompt, n = 16, temperature = 2.0 })).Json();
        ulong seed = drawn.GetProperty("seed").GetUInt64();

        var again = await (await _client.PostJson("/v1/sample", new { prompt, n = 16, temperature = 2.0, seed })).Json();

        Assert.That(again.GetProperty("responses").Rows(), Is.EqualTo(drawn.GetProperty("responses").Rows()));
    }

    [Test]
    public async Task Model_Reports_Contract_Shape_Metadata_And_Path()
    {
        var model = await _client.Model();

        Assert.That(model.GetProperty("path").GetString(), Is.EqualTo(_model));
        Assert.That(model.GetProperty("minPromptLength").GetInt32(), Is.EqualTo(3));
        Assert.That(model.GetProperty("maxPromptLength").GetInt32(), Is.EqualTo(3));
        Assert.That(model.GetProperty("vocabSize").GetInt32(), Is.EqualTo(5));
        Assert.That(model.GetProperty("policy").GetString(), Is.EqualTo("seed"));
        Assert.That(model.GetProperty("run").GetString(), Is.EqualTo(TestModels.LectureRun));
        Assert.That(model.GetProperty("epoch").GetInt32(), Is.EqualTo(_direct.Contract.Epoch));
        Assert.That(model.GetProperty("generation").GetInt32(), Is.EqualTo(1));
        Assert.That(model.GetProperty("loadedAt").GetDateTimeOffset(), Is.LessThanOrEqualTo(DateTimeOffset.UtcNow));

        var contract = model.GetProperty("contract");
        Assert.That(contract.GetProperty("version").GetString(), Is.EqualTo(OnnxContract.Factorised.Version));
        Assert.That(contract.GetProperty("inputs").EnumerateArray().Select(t => t.GetProperty("name").GetString()), Is.EqualTo(new[] { OnnxContract.PromptsInput }));
        Assert.That(contract.GetProperty("outputs").EnumerateArray().Select(t => t.GetProperty("name").GetString()),
            Is.EqualTo(new[] { OnnxContract.LogitsOutput, OnnxContract.ResponseOutput }));
        Assert.That(contract.GetProperty("outputs")[0].GetProperty("shape").EnumerateArray().Select(d => d.GetString()),
            Is.EqualTo(new[] { OnnxContract.BatchDim, "3", "5" }));
        Assert.That(contract.GetProperty("outputs")[0].GetProperty("elementType").GetString(), Is.EqualTo("float32"));
        Assert.That(contract.GetProperty("inputs")[0].GetProperty("elementType").GetString(), Is.EqualTo("int64"));
        Assert.That(contract.GetProperty("opset").GetInt32(), Is.EqualTo(OnnxContract.Opset));

        var metadata = model.GetProperty("metadata");
        Assert.That(metadata.GetProperty(OnnxContract.Metadata.VocabSize).GetString(), Is.EqualTo("5"));
        Assert.That(metadata.GetProperty(OnnxContract.Metadata.Run).GetString(), Is.EqualTo(TestModels.LectureRun));
        Assert.That(model.GetProperty("reload").GetProperty("enabled").GetBoolean(), Is.True);
    }

    /// <summary>Each reward component under its own name, as <see cref="SortingRewards"/> computes it.</summary>
    static void AssertRewards(System.Text.Json.JsonElement rewards, long[] prompt, long[] response)
    {
        Assert.That(rewards.GetProperty("exact").GetBoolean(), Is.EqualTo(SortingRewards.Exact(prompt, response) == 1));
        var components = rewards.GetProperty("components");
        Assert.That(components.EnumerateObject().Select(p => p.Name), Is.EqualTo(new[] { "inclusionOrdering", "sortDistance", "exact" }), "the sorting task's components, in its order");
        Assert.That(components.GetProperty("inclusionOrdering").GetDouble(), Is.EqualTo(SortingRewards.InclusionOrdering(prompt, response)));
        Assert.That(components.GetProperty("sortDistance").GetDouble(), Is.EqualTo(SortingRewards.SortDistance(prompt, response)));
        Assert.That(components.GetProperty("exact").GetDouble(), Is.EqualTo(SortingRewards.Exact(prompt, response)));
    }

    [TestCase("/health/live")]
    [TestCase("/health/ready")]
    public async Task Health_Endpoints_Report_Healthy_With_A_Model_Loaded(string path)
    {
        using var response = await _client.GetAsync(path);
        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.OK));
        Assert.That(await response.Content.ReadAsStringAsync(), Is.EqualTo("Healthy"));
    }

    [Test]
    public async Task OpenApi_Document_Describes_Every_Endpoint()
    {
        using var response = await _client.GetAsync("/openapi/v1.json");
        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.OK));
        Assert.That(response.Content.Headers.ContentType?.MediaType, Is.EqualTo("application/json"));
        var paths = (await response.Json()).GetProperty("paths");

        Assert.That(paths.EnumerateObject().Select(p => p.Name), Is.SupersetOf(new[] { "/v1/respond", "/v1/respond/batch", "/v1/sort", "/v1/sort/batch", "/v1/sample", "/v1/model" }));
        var sortBody = paths.GetProperty("/v1/sort").GetProperty("post").GetProperty("requestBody").GetProperty("content");
        Assert.That(sortBody.TryGetProperty("application/json", out _), Is.True, "the sort request body is documented");
    }

    [Test]
    public async Task Unknown_Routes_Get_A_Problem_Not_An_Empty_Body()
    {
        using var response = await _client.GetAsync("/v1/nope");
        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.NotFound));
        Assert.That(response.Content.Headers.ContentType?.MediaType, Is.EqualTo("application/problem+json"));
    }
}
