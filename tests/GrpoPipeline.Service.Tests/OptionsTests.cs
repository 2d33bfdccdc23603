using GrpoPipeline.Core;
using NUnit.Framework;

namespace GrpoPipeline.Service.Tests;

/// <summary>Bad settings stop the service at start with a message naming the key, the value and what is allowed.</summary>
[TestFixture]
public sealed class OptionsTests
{
    static IEnumerable<TestCaseData> BadOptions()
    {
        var model = () => TestModels.Lecture;
        yield return new TestCaseData(() => new ServiceOptions(), "Sorter:ModelPath").SetName("Missing_ModelPath_Is_Rejected");
        yield return new TestCaseData(() => new ServiceOptions { ModelPath = "/nope/missing.onnx" }, "/nope/missing.onnx").SetName("Nonexistent_ModelPath_Is_Rejected");
        yield return new TestCaseData(() => new ServiceOptions { ModelPath = model(), MaxBatch = 0 }, "Sorter:MaxBatch").SetName("Zero_MaxBatch_Is_Rejected");
        yield return new TestCaseData(() => new ServiceOptions { ModelPath = model(), IntraOpThreads = 0 }, "Sorter:IntraOpThreads").SetName("Zero_IntraOpThreads_Is_Rejected");
        yield return new TestCaseData(() => new ServiceOptions { ModelPath = model(), MaxRequestBodyBytes = 10 }, "Sorter:MaxRequestBodyBytes").SetName("Tiny_Body_Limit_Is_Rejected");
        yield return new TestCaseData(() => new ServiceOptions { ModelPath = model(), ReloadPollMilliseconds = 5 }, "Sorter:ReloadPollMilliseconds").SetName("Too_Fast_Poll_Is_Rejected");
    }

    [TestCaseSource(nameof(BadOptions))]
    public void Validate_Names_The_Key(Func<ServiceOptions> options, string mention)
    {
        var e = Assert.Throws<ConfigException>(() => options().Validate());
        Assert.That(e!.Message, Does.Contain(mention));
    }

    [Test]
    public void Defaults_Are_Valid_With_A_Model()
    {
        var options = new ServiceOptions { ModelPath = TestModels.Lecture };
        Assert.That(options.Validate, Throws.Nothing);
        Assert.That(options.MaxBatch, Is.EqualTo(1024));
        Assert.That(options.IntraOpThreads, Is.EqualTo(1));
        Assert.That(options.MaxRequestBodyBytes, Is.EqualTo(1 << 20));
    }

    [Test]
    public void Service_Does_Not_Start_With_A_Bad_Setting()
    {
        using var factory = new SorterServiceFactory(TestModels.Lecture, new Dictionary<string, string> { ["Sorter:MaxBatch"] = "0" });
        var e = Assert.Catch(() => factory.CreateClient());
        Assert.That(Messages(e!), Does.Contain("Sorter:MaxBatch").And.Contain("1..65536"));
    }

    [Test]
    public void Service_Does_Not_Start_With_A_Model_That_Breaks_The_Contract()
    {
        using var factory = new SorterServiceFactory(TestModels.Truncated);
        var e = Assert.Catch(() => factory.CreateClient());
        Assert.That(Messages(e!), Does.Contain("not a loadable ONNX model"));
    }

    static string Messages(Exception e) => e is AggregateException a
        ? string.Join(" | ", a.Flatten().InnerExceptions.Select(Messages))
        : e.Message + (e.InnerException is { } inner ? " | " + Messages(inner) : "");
}
