using GrpoPipeline.Core;
using GrpoPipeline.Inference.Hosting;
using NUnit.Framework;

namespace GrpoPipeline.Service.Tests;

/// <summary>Bad settings stop the service at start with a message naming the key, the value and what is allowed.</summary>
[TestFixture]
public sealed class OptionsTests
{
    static IEnumerable<TestCaseData> BadOptions()
    {
        var model = () => TestModels.Lecture;
        yield return new TestCaseData(() => new PolicyModelOptions().Validate(), "Policy:ModelPath").SetName("Missing_ModelPath_Is_Rejected");
        yield return new TestCaseData(() => new PolicyModelOptions { ModelPath = "/nope/missing.onnx" }.Validate(), "/nope/missing.onnx").SetName("Nonexistent_ModelPath_Is_Rejected");
        yield return new TestCaseData(() => new PolicyModelOptions { ModelPath = model(), IntraOpThreads = 0 }.Validate(), "Policy:IntraOpThreads").SetName("Zero_IntraOpThreads_Is_Rejected");
        yield return new TestCaseData(() => new PolicyModelOptions { ModelPath = model(), ReloadPollMilliseconds = 5 }.Validate(), "Policy:ReloadPollMilliseconds").SetName("Too_Fast_Poll_Is_Rejected");
        yield return new TestCaseData(() => new PolicyModelOptions { ModelPath = model(), Batching = { MaxQueueLength = 0 } }.Validate(), "Policy:Batching:MaxQueueLength").SetName("Zero_Queue_Is_Rejected");
        yield return new TestCaseData(() => new PolicyApiOptions { MaxBatch = 0 }.Validate(), "Policy:MaxBatch").SetName("Zero_MaxBatch_Is_Rejected");
        yield return new TestCaseData(() => new PolicyApiOptions { MaxRequestBodyBytes = 10 }.Validate(), "Policy:MaxRequestBodyBytes").SetName("Tiny_Body_Limit_Is_Rejected");
        yield return new TestCaseData(() => new PolicyApiOptions { ApiKeys = ["short"] }.Validate(), "Policy:ApiKeys:0").SetName("Short_Api_Key_Is_Rejected");
        yield return new TestCaseData(() => new PolicyApiOptions { RateLimit = new() { PermitsPerSecond = -1 } }.Validate(), "Policy:RateLimit:PermitsPerSecond").SetName("Negative_Rate_Is_Rejected");
    }

    [TestCaseSource(nameof(BadOptions))]
    public void Validate_Names_The_Key(Action validate, string mention)
    {
        var e = Assert.Throws<ConfigException>(() => validate());
        Assert.That(e!.Message, Does.Contain(mention));
    }

    [Test]
    public void A_Rejected_Api_Key_Is_Not_Echoed_In_The_Message()
    {
        var e = Assert.Throws<ConfigException>(() => new PolicyApiOptions { ApiKeys = ["secret key with spaces"] }.Validate());
        Assert.That(e!.Message, Does.Not.Contain("secret"));
    }

    [Test]
    public void Defaults_Are_Valid_With_A_Model()
    {
        var model = new PolicyModelOptions { ModelPath = TestModels.Lecture };
        var api = new PolicyApiOptions();
        Assert.That(model.Validate, Throws.Nothing);
        Assert.That(api.Validate, Throws.Nothing);
        Assert.That((model.IntraOpThreads, model.HotReload), Is.EqualTo((1, true)));
        var batching = model.Batching;   // the defaults the Inference README states and benchmarks.md measured
        Assert.That((batching.Enabled, batching.MaxBatchSize, batching.MaxWaitMicroseconds, batching.MaxQueueLength, batching.Workers), Is.EqualTo((true, 256, 0, 4096, 1)));
        Assert.That((api.MaxBatch, api.MaxRequestBodyBytes, api.ApiKeys.Count, api.RateLimit.Enabled, api.Metrics), Is.EqualTo((1024, 1L << 20, 0, false, false)));
    }

    [Test]
    public void Service_Does_Not_Start_With_A_Bad_Setting()
    {
        using var factory = new PolicyServiceFactory(TestModels.Lecture, new Dictionary<string, string> { ["Policy:MaxBatch"] = "0" });
        var e = Assert.Catch(() => factory.CreateClient());
        Assert.That(Messages(e!), Does.Contain("Policy:MaxBatch").And.Contain("1..65536"));
    }

    [Test]
    public void Service_Does_Not_Start_With_A_Model_That_Breaks_The_Contract()
    {
        using var factory = new PolicyServiceFactory(TestModels.Truncated);
        var e = Assert.Catch(() => factory.CreateClient());
        Assert.That(Messages(e!), Does.Contain("not a loadable ONNX model"));
    }

    static string Messages(Exception e) => e is AggregateException a
        ? string.Join(" | ", a.Flatten().InnerExceptions.Select(Messages))
        : e.Message + (e.InnerException is { } inner ? " | " + Messages(inner) : "");
}
