using System.Net;
using NUnit.Framework;

namespace GrpoPipeline.Service.Tests;

/// <summary>Optional API keys (401) and per-client rate limiting (429 with Retry-After); health stays open.</summary>
[TestFixture]
public sealed class SecurityTests
{
    const string KeyA = "key-a-0123456789abcdef", KeyB = "key-b-0123456789abcdef";
    string _dir = null!;

    [OneTimeSetUp]
    public void SetUp() => _dir = TestModels.NewTempDir("security");

    [OneTimeTearDown]
    public void TearDown() => TestModels.DeleteDir(_dir);

    PolicyServiceFactory Serve(Dictionary<string, string> settings) => new(TestModels.ServedCopy(_dir, TestModels.Lecture), settings);

    static async Task<HttpResponseMessage> Sort(HttpClient client, string? key = null)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, "/v1/sort") { Content = JsonContent("{\"prompt\":[3,1,2]}") };
        if (key is not null) request.Headers.Add("X-Api-Key", key);
        return await client.SendAsync(request);
    }

    static StringContent JsonContent(string json) => new(json, System.Text.Encoding.UTF8, "application/json");

    [Test]
    public async Task With_Api_Keys_A_Request_Needs_One_Of_Them()
    {
        using var service = Serve(new() { ["Policy:ApiKeys:0"] = KeyA, ["Policy:ApiKeys:1"] = KeyB });
        using var client = service.CreateClient();

        using (var none = await Sort(client))
        {
            Assert.That(none.StatusCode, Is.EqualTo(HttpStatusCode.Unauthorized));
            Assert.That(none.Content.Headers.ContentType?.MediaType, Is.EqualTo("application/problem+json"));
            Assert.That((await none.Json()).GetProperty("detail").GetString(), Does.Contain("X-Api-Key"));
        }
        using (var wrong = await Sort(client, KeyA + "x"))
            Assert.That(wrong.StatusCode, Is.EqualTo(HttpStatusCode.Unauthorized));
        using (var model = await client.GetAsync("/v1/model"))
            Assert.That(model.StatusCode, Is.EqualTo(HttpStatusCode.Unauthorized), "every /v1 endpoint is behind the key");
        foreach (var key in new[] { KeyA, KeyB })
            using (var ok = await Sort(client, key))
                Assert.That(ok.StatusCode, Is.EqualTo(HttpStatusCode.OK), $"key {key[..5]}");
        foreach (var open in new[] { "/health/live", "/health/ready", "/metrics" })
            using (var response = await client.GetAsync(open))
                Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.OK), $"{open} stays open for probes and scrapers");
    }

    [Test]
    public async Task Without_Api_Keys_The_Api_Is_Open()
    {
        using var service = Serve(new());
        using var client = service.CreateClient();
        using var response = await Sort(client);
        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.OK));
    }

    [Test]
    public async Task A_Client_Over_Its_Rate_Gets_429_With_Retry_After()
    {
        using var service = Serve(new() { ["Policy:RateLimit:PermitsPerSecond"] = "1", ["Policy:RateLimit:Burst"] = "3" });
        using var client = service.CreateClient();

        var statuses = new List<HttpStatusCode>();
        for (int i = 0; i < 5; i++)
            using (var response = await Sort(client))
            {
                statuses.Add(response.StatusCode);
                if (response.StatusCode != HttpStatusCode.TooManyRequests) continue;
                Assert.That(response.Content.Headers.ContentType?.MediaType, Is.EqualTo("application/problem+json"));
                Assert.That(response.Headers.RetryAfter?.Delta, Is.Not.Null.And.GreaterThanOrEqualTo(TimeSpan.FromSeconds(1)), "Retry-After in whole seconds");
                Assert.That((await response.Json()).GetProperty("detail").GetString(), Does.Contain("rate limit"));
            }
        Assert.That(statuses.Take(3), Has.All.EqualTo(HttpStatusCode.OK), "the burst");
        Assert.That(statuses.Skip(3), Has.All.EqualTo(HttpStatusCode.TooManyRequests), "beyond the burst, within the same second");
        using (var health = await client.GetAsync("/health/ready"))
            Assert.That(health.StatusCode, Is.EqualTo(HttpStatusCode.OK), "probes are not rate limited");
    }

    [Test]
    public async Task Each_Api_Key_Has_Its_Own_Bucket()
    {
        using var service = Serve(new()
        {
            ["Policy:ApiKeys:0"] = KeyA, ["Policy:ApiKeys:1"] = KeyB,
            ["Policy:RateLimit:PermitsPerSecond"] = "1", ["Policy:RateLimit:Burst"] = "1",
        });
        using var client = service.CreateClient();
        using (var first = await Sort(client, KeyA)) Assert.That(first.StatusCode, Is.EqualTo(HttpStatusCode.OK));
        using (var second = await Sort(client, KeyA)) Assert.That(second.StatusCode, Is.EqualTo(HttpStatusCode.TooManyRequests));
        using (var other = await Sort(client, KeyB)) Assert.That(other.StatusCode, Is.EqualTo(HttpStatusCode.OK), "another client is not held back");
    }
}
