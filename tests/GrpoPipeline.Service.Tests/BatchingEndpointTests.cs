using System.Net;
using GrpoPipeline.Inference;
using NUnit.Framework;

namespace GrpoPipeline.Service.Tests;

/// <summary>
/// <c>POST /v1/respond</c> through the host's batcher: concurrent requests get the answers they get alone, and a
/// request beyond the queue bound gets 503 with <c>Retry-After</c> at once instead of waiting.
/// </summary>
[TestFixture]
public sealed class BatchingEndpointTests
{
    string _dir = null!;

    [SetUp]
    public void SetUp() => _dir = TestModels.NewTempDir("batching");

    [TearDown]
    public void TearDown() => TestModels.DeleteDir(_dir);

    [Test]
    public async Task Concurrent_Requests_To_A_Decoder_Get_The_Answers_They_Get_Alone()
    {
        // A 20 ms wait makes the requests that arrive together share batches.
        using var service = new PolicyServiceFactory(TestModels.ServedCopy(_dir, TestModels.Decoder),
            new Dictionary<string, string> { ["Policy:Batching:MaxWaitMicroseconds"] = "20000" });
        using var client = service.CreateClient();
        using var direct = OnnxPolicy.Load(TestModels.Decoder);
        var prompts = Enumerable.Range(0, 48).Select(i => Enumerable.Range(0, 1 + i % 6).Select(j => (long)((i * 7 + j * 3) % 8)).ToArray()).ToArray();

        var bodies = await Task.WhenAll(prompts.Select(async p =>
        {
            using var response = await client.PostJson("/v1/respond", new { prompt = p });
            Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.OK), await response.Content.ReadAsStringAsync());
            return await response.Json();
        }));

        for (int i = 0; i < prompts.Length; i++)
        {
            var response = bodies[i].GetProperty("response").EnumerateArray().Select(t => t.GetInt64()).ToArray();
            Assert.That(response, Is.EqualTo(direct.Respond(prompts[i])), $"prompt {i}");
            Assert.That(bodies[i].GetProperty("rewards").GetProperty("exact").GetBoolean(),
                Is.EqualTo(direct.Contract.Rewards(prompts[i], response)!.Exact), "scored with the answering model");
        }
    }

    [Test]
    public async Task A_Request_Beyond_The_Queue_Bound_Gets_503_With_Retry_After_At_Once()
    {
        // The worker waits 1 s for a batch to fill, so the first request holds the only queue slot meanwhile.
        using var service = new PolicyServiceFactory(TestModels.ServedCopy(_dir, TestModels.Decoder), new Dictionary<string, string>
        {
            ["Policy:Batching:MaxQueueLength"] = "1",
            ["Policy:Batching:MaxWaitMicroseconds"] = "1000000",
        });
        using var client = service.CreateClient();
        var queued = client.PostJson("/v1/respond", new { prompt = new[] { 3, 1 } });
        var started = DateTime.UtcNow;
        while (service.Host.QueueLength == 0 && DateTime.UtcNow - started < TimeSpan.FromSeconds(2)) await Task.Delay(5);
        Assert.That(service.Host.QueueLength, Is.EqualTo(1), "premise: the first request is queued");

        var clock = System.Diagnostics.Stopwatch.StartNew();
        using var refused = await client.PostJson("/v1/respond", new { prompt = new[] { 2, 1 } });
        var waited = clock.Elapsed;

        Assert.That(refused.StatusCode, Is.EqualTo(HttpStatusCode.ServiceUnavailable));
        Assert.That(refused.Headers.RetryAfter?.Delta, Is.GreaterThanOrEqualTo(TimeSpan.FromSeconds(1)));
        Assert.That(refused.Content.Headers.ContentType?.MediaType, Is.EqualTo("application/problem+json"));
        Assert.That((await refused.Json()).GetProperty("detail").GetString(), Does.Contain("queue is full"));
        Assert.That(waited, Is.LessThan(TimeSpan.FromSeconds(0.5)), "refused at once, not after the queued request's wait");
        using var answered = await queued;
        Assert.That(answered.StatusCode, Is.EqualTo(HttpStatusCode.OK), "the queued request is still answered");
    }
}
