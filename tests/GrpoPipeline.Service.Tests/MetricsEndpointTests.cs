using System.Net;
using NUnit.Framework;

namespace GrpoPipeline.Service.Tests;

/// <summary><c>GET /metrics</c>: the GrpoPipeline meter in Prometheus' text format, on by default for grpo serve.</summary>
[TestFixture]
public sealed class MetricsEndpointTests
{
    [Test]
    public async Task The_Scrape_Shows_Inference_Rejection_And_Model_Series_After_Requests()
    {
        var dir = TestModels.NewTempDir("metrics");
        try
        {
            using var service = new PolicyServiceFactory(TestModels.ServedCopy(dir, TestModels.Lecture));
            using var client = service.CreateClient();
            for (int i = 0; i < 3; i++)
                (await client.PostJson("/v1/sort", new { prompt = new[] { 3, 1, 2 } })).Dispose();
            (await client.PostJson("/v1/sort/batch", new { prompts = new[] { new[] { 3, 1, 2 }, new[] { 4, 0, 1 } } })).Dispose();
            (await client.PostJson("/v1/sort", new { prompt = new[] { 3, 9, 2 } })).Dispose();   // 400

            using var response = await client.GetAsync("/metrics");
            Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.OK));
            Assert.That(response.Content.Headers.ContentType?.MediaType, Does.StartWith("text/plain").Or.StartWith("application/openmetrics-text"));
            var text = await response.Content.ReadAsStringAsync();
            TestContext.Out.WriteLine(string.Join('\n', text.Split('\n').Where(l => l.StartsWith("grpo_", StringComparison.Ordinal))));

            Assert.That(text, Does.Contain("grpo_inference_duration_seconds_bucket"));
            Assert.That(Value(text, "grpo_inference_duration_seconds_count"), Is.GreaterThanOrEqualTo(4), "every inference is timed");
            Assert.That(Value(text, "grpo_inference_prompts_total"), Is.GreaterThanOrEqualTo(5), "3 single prompts and a batch of 2");
            Assert.That(text, Does.Contain("grpo_inference_batch_size"));
            Assert.That(text, Does.Match("grpo_requests_rejected_total\\{[^}]*http_response_status_code=\"400\"[^}]*\\} [1-9]"));
            Assert.That(text, Does.Contain("grpo_model_generation"));
            Assert.That(Value(text, "grpo_batching_queue_time_seconds_count"), Is.GreaterThanOrEqualTo(3), "every single prompt passes the batcher");
            Assert.That(text, Does.Match("grpo_batching_queue_length\\{[^}]*\\} 0"), "nothing left waiting");
        }
        finally
        {
            TestModels.DeleteDir(dir);
        }
    }

    [Test]
    public async Task Metrics_Can_Be_Turned_Off()
    {
        var dir = TestModels.NewTempDir("no-metrics");
        try
        {
            using var service = new PolicyServiceFactory(TestModels.ServedCopy(dir, TestModels.Lecture), new Dictionary<string, string> { ["Policy:Metrics"] = "false" });
            using var client = service.CreateClient();
            using var response = await client.GetAsync("/metrics");
            Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.NotFound));
        }
        finally
        {
            TestModels.DeleteDir(dir);
        }
    }

    /// <summary>The value of the first sample line of <paramref name="series"/> (label sets ignored).</summary>
    static double Value(string text, string series)
    {
        var line = text.Split('\n').FirstOrDefault(l => l.StartsWith(series, StringComparison.Ordinal) && l.Length > series.Length && l[series.Length] is ' ' or '{');
        Assert.That(line, Is.Not.Null, $"no {series} sample");
        return double.Parse(line!.Split(' ')[^1].Trim(), System.Globalization.CultureInfo.InvariantCulture);
    }
}
