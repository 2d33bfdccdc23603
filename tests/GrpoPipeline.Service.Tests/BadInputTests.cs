using System.Net;
using System.Text;
using NUnit.Framework;

namespace GrpoPipeline.Service.Tests;

/// <summary>
/// Every bad client input gets an application/problem+json whose detail says what is wrong: 415 for a body that is not
/// declared JSON, 413 for one over the size limit, 400 for everything else.
/// </summary>
[TestFixture]
public sealed class BadInputTests
{
    const int MaxBatch = 4;
    const int MaxBody = 4096;

    string _dir = null!;
    PolicyServiceFactory _factory = null!;
    HttpClient _client = null!;

    /// <summary>One bad request: where it goes, its body and content type, words its problem detail must contain, its status.</summary>
    public sealed record BadRequest(string Name, string Path, string? Body, string[] DetailMentions, string? ContentType = "application/json", int Status = 400)
    {
        public override string ToString() => Name;
    }

    static readonly string Oversized = "{\"prompt\":[3,1,2]" + new string(' ', MaxBody) + "}";

    static readonly BadRequest[] Table =
    [
        new("Malformed JSON", "/v1/sort", "{\"prompt\":[3,1,", ["malformed JSON"]),
        new("Trailing garbage", "/v1/sort", "{\"prompt\":[3,1,2]} x", ["malformed JSON"]),
        new("Empty body", "/v1/sort", "", ["empty"]),
        new("Body is an array", "/v1/sort", "[3,1,2]", ["JSON object", "an array"]),
        new("Missing prompt", "/v1/sort", "{}", ["'prompt'", "required"]),
        new("Unknown field", "/v1/sort", "{\"prompt\":[3,1,2],\"promt\":1}", ["unknown field 'promt'"]),
        new("Duplicate prompt", "/v1/sort", "{\"prompt\":[3,1,2],\"prompt\":[1,2,3]}", ["'prompt'", "more than once"]),
        new("Prompt is a string", "/v1/sort", "{\"prompt\":\"abc\"}", ["'prompt'", "array of integer tokens", "\"abc\""]),
        new("Prompt is null", "/v1/sort", "{\"prompt\":null}", ["'prompt'", "null"]),
        new("Token is fractional", "/v1/sort", "{\"prompt\":[1.5,1,2]}", ["'prompt[0]'", "integer", "1.5"]),
        new("Token is a string", "/v1/sort", "{\"prompt\":[3,\"1\",2]}", ["'prompt[1]'", "integer"]),
        new("Token is null", "/v1/sort", "{\"prompt\":[3,1,null]}", ["'prompt[2]'", "null"]),
        new("Token overflows int64", "/v1/sort", "{\"prompt\":[3,1,99999999999999999999]}", ["'prompt[2]'", "99999999999999999999"]),
        new("Prompt too short", "/v1/sort", "{\"prompt\":[3,1]}", ["length 2", "length 3"]),
        new("Prompt too long", "/v1/sort", "{\"prompt\":[3,1,2,0]}", ["length 4", "length 3"]),
        new("Token out of range", "/v1/sort", "{\"prompt\":[3,9,2]}", ["index 1", "is 9", "0..4"]),
        new("Negative token", "/v1/sort", "{\"prompt\":[3,1,-1]}", ["index 2", "is -1", "0..4"]),
        new("Body over the limit", "/v1/sort", Oversized, ["limit", $"{MaxBody} bytes"], Status: 413),
        new("Wrong content type", "/v1/sort", "{\"prompt\":[3,1,2]}", ["Content-Type", "application/json", "text/plain"], "text/plain", 415),
        new("No content type", "/v1/sort", "{\"prompt\":[3,1,2]}", ["Content-Type", "application/json"], null, 415),
        new("Field name in the wrong case", "/v1/sort", "{\"Prompt\":[3,1,2]}", ["unknown field 'Prompt'", "'prompt'"]),
        new("Body is null", "/v1/sort", "null", ["JSON object", "null"]),
        new("Batch row is null", "/v1/sort/batch", "{\"prompts\":[[3,1,2],null]}", ["'prompts[1]'", "null"]),
        new("Sample n is null", "/v1/sample", "{\"prompt\":[3,1,2],\"n\":null}", ["'n'", "integer", "null"]),
        new("Batch missing prompts", "/v1/sort/batch", "{\"prompt\":[3,1,2]}", ["unknown field 'prompt'", "'prompts'"]),
        new("Batch is empty", "/v1/sort/batch", "{\"prompts\":[]}", ["'prompts'", "empty"]),
        new("Batch over MaxBatch", "/v1/sort/batch", "{\"prompts\":[[3,1,2],[3,1,2],[3,1,2],[3,1,2],[3,1,2]]}", ["5 prompts", $"largest batch is {MaxBatch}", "MaxBatch"]),
        new("Batch is not an array", "/v1/sort/batch", "{\"prompts\":{}}", ["'prompts'", "an object"]),
        new("Batch row is a number", "/v1/sort/batch", "{\"prompts\":[[3,1,2],7]}", ["'prompts[1]'", "7"]),
        new("Batch row wrong length", "/v1/sort/batch", "{\"prompts\":[[3,1,2],[1,2]]}", ["'prompts[1]'", "length 2"]),
        new("Batch token out of range", "/v1/sort/batch", "{\"prompts\":[[3,1,2],[1,2,5]]}", ["'prompts[1]'", "index 2", "is 5"]),
        new("Batch token fractional", "/v1/sort/batch", "{\"prompts\":[[3,1,2],[1,2.5,0]]}", ["'prompts[1][1]'", "2.5"]),
        new("Sample missing n", "/v1/sample", "{\"prompt\":[3,1,2]}", ["'n'", "required"]),
        new("Sample n is zero", "/v1/sample", "{\"prompt\":[3,1,2],\"n\":0}", ["'n'", "is 0", "1..256"]),
        new("Sample n too large", "/v1/sample", "{\"prompt\":[3,1,2],\"n\":257}", ["'n'", "is 257", "1..256"]),
        new("Sample n fractional", "/v1/sample", "{\"prompt\":[3,1,2],\"n\":2.5}", ["'n'", "integer", "2.5"]),
        new("Sample temperature zero", "/v1/sample", "{\"prompt\":[3,1,2],\"n\":2,\"temperature\":0}", ["'temperature'", "0.01..100"]),
        new("Sample temperature too high", "/v1/sample", "{\"prompt\":[3,1,2],\"n\":2,\"temperature\":1000}", ["'temperature'", "1000", "0.01..100"]),
        new("Sample temperature is a string", "/v1/sample", "{\"prompt\":[3,1,2],\"n\":2,\"temperature\":\"hot\"}", ["'temperature'", "\"hot\""]),
        new("Sample negative seed", "/v1/sample", "{\"prompt\":[3,1,2],\"n\":2,\"seed\":-1}", ["'seed'", "-1"]),
        new("Sample token out of range", "/v1/sample", "{\"prompt\":[3,1,7],\"n\":2}", ["index 2", "is 7"]),
    ];

    static IEnumerable<TestCaseData> Cases() => Table.Select(c => new TestCaseData(c).SetName($"Bad_Input_Gets_{c.Status}_Problem({c.Name})"));

    [OneTimeSetUp]
    public void StartService()
    {
        _dir = TestModels.NewTempDir("bad-input");
        var model = TestModels.ServedCopy(_dir, TestModels.Lecture);
        _factory = new PolicyServiceFactory(model, new Dictionary<string, string>
        {
            ["Policy:MaxBatch"] = MaxBatch.ToString(),
            ["Policy:MaxRequestBodyBytes"] = MaxBody.ToString(),
        });
        _client = _factory.CreateClient();
    }

    [OneTimeTearDown]
    public void StopService()
    {
        _client.Dispose();
        _factory.Dispose();
        TestModels.DeleteDir(_dir);
    }

    [TestCaseSource(nameof(Cases))]
    public async Task Bad_Input_Gets_A_Problem(BadRequest bad)
    {
        using var content = new ByteArrayContent(Encoding.UTF8.GetBytes(bad.Body ?? ""));
        if (bad.ContentType is not null) content.Headers.TryAddWithoutValidation("Content-Type", bad.ContentType);
        using var response = await _client.PostAsync(bad.Path, content);

        await AssertProblem(response, bad.DetailMentions, bad.Status);
    }

    [Test]
    public async Task A_Chunked_Body_Over_The_Limit_Gets_413_Problem()
    {
        // No Content-Length: the limit must hold while reading, not only from the header.
        using var request = new HttpRequestMessage(HttpMethod.Post, "/v1/sort")
        {
            Content = new StreamContent(new NoLengthStream(Encoding.UTF8.GetBytes(Oversized))),
        };
        request.Content.Headers.ContentType = new("application/json");
        request.Headers.TransferEncodingChunked = true;
        using var response = await _client.SendAsync(request);

        await AssertProblem(response, ["larger than the limit", $"{MaxBody} bytes"], 413);
    }

    [Test]
    public async Task A_Body_Within_The_Limit_Still_Works_With_Padding()
    {
        using var content = new StringContent("{\"prompt\":[3,1,2]" + new string(' ', MaxBody - 100) + "}", Encoding.UTF8, "application/json");
        using var response = await _client.PostAsync("/v1/sort", content);
        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.OK));
    }

    [Test]
    public async Task A_Batch_Of_Exactly_MaxBatch_Prompts_Is_Accepted()
    {
        using var response = await _client.PostJson("/v1/sort/batch", new { prompts = Enumerable.Repeat(new long[] { 3, 1, 2 }, MaxBatch) });
        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.OK));
        Assert.That((await response.Json()).GetProperty("responses").GetArrayLength(), Is.EqualTo(MaxBatch));
    }

    static async Task AssertProblem(HttpResponseMessage response, string[] mentions, int status)
    {
        string text = await response.Content.ReadAsStringAsync();
        Assert.That((int)response.StatusCode, Is.EqualTo(status), text);
        Assert.That(response.Content.Headers.ContentType?.MediaType, Is.EqualTo("application/problem+json"), text);
        var problem = await response.Json();
        Assert.That(problem.GetProperty("status").GetInt32(), Is.EqualTo(status));
        string detail = problem.GetProperty("detail").GetString()!;
        TestContext.Out.WriteLine(detail);
        foreach (var mention in mentions) Assert.That(detail, Does.Contain(mention), "the detail must say what is wrong");
    }

    /// <summary>A stream that hides its length, so the client sends the body chunked.</summary>
    sealed class NoLengthStream(byte[] bytes) : MemoryStream(bytes)
    {
        public override bool CanSeek => false;
    }
}
