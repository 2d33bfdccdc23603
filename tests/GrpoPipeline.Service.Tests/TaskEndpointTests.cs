using System.Net;
using GrpoPipeline.Core;
using GrpoPipeline.Tests;
using NUnit.Framework;

namespace GrpoPipeline.Service.Tests;

/// <summary>
/// The endpoints serve any task: an addition model is described, checked and scored with its own task; <c>/v1/sort</c>
/// serves sorting models only; a model of a task the service does not know answers without rewards and says why.
/// </summary>
[TestFixture]
public sealed class TaskEndpointTests
{
    static readonly long[] SevenPlusFive = [7, AddTask.Plus, 5, AddTask.EqualsSign];

    [Test]
    public async Task An_Addition_Model_Is_Described_Checked_And_Scored_With_Its_Task()
    {
        using var dir = new TempDir("add-service");
        using var factory = new PolicyServiceFactory(ModelFiles.ServedCopy(dir.Root, Fixtures.Add));
        using var client = factory.CreateClient();

        var task = (await client.Model()).GetProperty("task");
        Assert.That(task.GetProperty("name").GetString(), Is.EqualTo("add"));
        Assert.That(task.GetProperty("rewardsAvailable").GetBoolean(), Is.True);
        Assert.That(task.GetProperty("components").EnumerateArray().Select(c => c.GetProperty("name").GetString()), Is.EqualTo(new[] { "digitShare", "exact" }));
        Assert.That(task.GetProperty("tokens").EnumerateArray().Select(t => t.GetString()), Is.EqualTo(new[] { "0", "1", "2", "3", "4", "5", "6", "7", "8", "9", "+", "=" }));

        var body = await (await client.PostJson("/v1/respond", new { prompt = SevenPlusFive })).Json();
        var response = body.GetProperty("response").Longs();
        var components = body.GetProperty("rewards").GetProperty("components");
        Assert.That(components.EnumerateObject().Select(p => p.Name), Is.EqualTo(new[] { "digitShare", "exact" }));
        // 7 + 5 = 12, least significant digit first: [2, 1]; the share of those two digits right, of max(|response|, 2).
        long[] answer = [2, 1];
        double share = (double)Enumerable.Range(0, Math.Min(2, response.Length)).Count(i => response[i] == answer[i]) / Math.Max(2, response.Length);
        Assert.That(components.GetProperty("digitShare").GetDouble(), Is.EqualTo(share));
        Assert.That(body.GetProperty("rewards").GetProperty("exact").GetBoolean(), Is.EqualTo(response.SequenceEqual(answer)));

        using var notAddition = await client.PostJson("/v1/respond", new { prompt = new long[] { 7, 5, 5, AddTask.EqualsSign } });
        Assert.That(notAddition.StatusCode, Is.EqualTo(HttpStatusCode.BadRequest));
        Assert.That(await notAddition.Content.ReadAsStringAsync(), Does.Contain("'prompt': prompt has no '+' (token 10)"));

        using var sort = await client.PostJson("/v1/sort", new { prompt = SevenPlusFive });
        Assert.That(sort.StatusCode, Is.EqualTo(HttpStatusCode.BadRequest));
        Assert.That(await sort.Content.ReadAsStringAsync(), Does.Contain("this model's task is 'add': use /v1/respond"));
    }

    [Test]
    public async Task A_Model_Of_A_Task_The_Service_Does_Not_Know_Answers_Without_Rewards_And_Says_Why()
    {
        using var dir = new TempDir("unregistered-service");
        using var factory = new PolicyServiceFactory(ModelFiles.ServedCopy(dir.Root, Fixtures.Unregistered));
        using var client = factory.CreateClient();

        var task = (await client.Model()).GetProperty("task");
        Assert.That(task.GetProperty("name").GetString(), Is.EqualTo("fixture-unregistered"));
        Assert.That(task.GetProperty("rewardsAvailable").GetBoolean(), Is.False);
        Assert.That(task.GetProperty("rewardsUnavailable").GetString(), Does.Contain("task 'fixture-unregistered' is not registered"));
        Assert.That(task.GetProperty("components").GetArrayLength(), Is.Zero);

        var one = await (await client.PostJson("/v1/respond", new { prompt = new long[] { 1, 2, 3 } })).Json();
        Assert.That(one.GetProperty("response").Longs(), Has.Length.InRange(0, 5));
        Assert.That(one.GetProperty("rewards").ValueKind, Is.EqualTo(System.Text.Json.JsonValueKind.Null));
        var batch = await (await client.PostJson("/v1/respond/batch", new { prompts = new[] { new long[] { 1 }, [5, 4, 3, 2] } })).Json();
        Assert.That(batch.GetProperty("responses").GetArrayLength(), Is.EqualTo(2));
        Assert.That(batch.GetProperty("rewards").ValueKind, Is.EqualTo(System.Text.Json.JsonValueKind.Null));
        var sampled = await (await client.PostJson("/v1/sample", new { prompt = new long[] { 1, 2 }, n = 3, seed = 1 })).Json();
        Assert.That(sampled.GetProperty("rewards").ValueKind, Is.EqualTo(System.Text.Json.JsonValueKind.Null));
    }

    [Test]
    public void The_Section_Name_Of_0_2_Stops_The_Service_With_What_To_Rename()
    {
        using var dir = new TempDir("old-section");
        using var factory = new PolicyServiceFactory(ModelFiles.ServedCopy(dir.Root, Fixtures.Lecture), new Dictionary<string, string> { ["Sorter:MaxBatch"] = "8" });
        Assert.That(() => factory.CreateClient(), Throws.InvalidOperationException.With.Message.Contains("'Sorter' was renamed 'Policy' in 0.3"));
    }
}
