using System.Net;
using GrpoPipeline.Inference;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Diagnostics.HealthChecks;
using Microsoft.AspNetCore.TestHost;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using NUnit.Framework;

namespace GrpoPipeline.Service.Tests;

/// <summary>
/// The public extensions in an app of a user's own: <c>AddGrpoApi</c> + <c>MapGrpoApi</c> mount the same API that
/// <c>grpo serve</c> has, <c>AddPolicyModelCheck</c> reports readiness, and <c>grpo serve</c> listens on loopback
/// unless told otherwise.
/// </summary>
[TestFixture]
public sealed class ExtensionsTests
{
    [Test]
    public async Task An_Empty_App_Serves_The_Api_With_Two_Lines()
    {
        var dir = TestModels.NewTempDir("extensions");
        try
        {
            var builder = WebApplication.CreateBuilder();
            builder.WebHost.UseTestServer();
            builder.Logging.ClearProviders();
            builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?> { ["Policy:ModelPath"] = TestModels.ServedCopy(dir, TestModels.Lecture) });
            builder.Services.AddGrpoApi(builder.Configuration);
            builder.Services.AddHealthChecks().AddPolicyModelCheck();
            await using var app = builder.Build();
            app.MapGrpoApi();
            app.MapHealthChecks("/ready", new HealthCheckOptions { Predicate = c => c.Tags.Contains(PolicyHealthChecksBuilderExtensions.ReadyTag) });
            await app.StartAsync();
            using var client = app.GetTestClient();

            using var sorted = await client.PostJson("/v1/sort", new { prompt = new[] { 3, 1, 2 } });
            Assert.That(sorted.StatusCode, Is.EqualTo(HttpStatusCode.OK));
            using var direct = OnnxPolicy.Load(TestModels.Lecture);
            Assert.That((await sorted.Json()).GetProperty("response").Longs(), Is.EqualTo(direct.Respond([3, 1, 2])));
            using (var bad = await client.PostJson("/v1/sort", new { prompt = new[] { 3, 1 } }))
                Assert.That(bad.StatusCode, Is.EqualTo(HttpStatusCode.BadRequest));
            using (var ready = await client.GetAsync("/ready"))
                Assert.That(await ready.Content.ReadAsStringAsync(), Is.EqualTo("Healthy"));
            using (var metrics = await client.GetAsync("/metrics"))
                Assert.That(metrics.StatusCode, Is.EqualTo(HttpStatusCode.NotFound), "metrics are opt-in for apps that mount the API");
            Assert.That(app.Services.GetRequiredService<IPolicy>().Contract.RunName, Is.EqualTo(TestModels.LectureRun),
                "the app's own code can inject the same hot-reloading policy");
            await app.StopAsync();
        }
        finally
        {
            TestModels.DeleteDir(dir);
        }
    }

    [Test]
    public void MapSorterApi_Without_AddSorterApi_Says_What_Is_Missing()
    {
        var builder = WebApplication.CreateBuilder();
        using var app = builder.Build();
        Assert.That(() => app.MapGrpoApi(), Throws.InvalidOperationException.With.Message.Contains("AddGrpoApi"));
    }

    [Test]
    public void Grpo_Serve_Listens_On_Loopback_Unless_Told_Otherwise()
    {
        using var quiet = ServiceApp.Build(ServiceApp.Arguments(TestModels.Lecture));
        using var told = ServiceApp.Build(ServiceApp.Arguments(TestModels.Lecture, "http://0.0.0.0:5099"));
        Assert.That(((IConfiguration)quiet.Configuration)[ServiceApp.UrlsKey], Is.EqualTo("http://127.0.0.1:5080"));
        Assert.That(((IConfiguration)told.Configuration)[ServiceApp.UrlsKey], Is.EqualTo("http://0.0.0.0:5099"));
    }
}
