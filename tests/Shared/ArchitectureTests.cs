using NUnit.Framework;

namespace GrpoPipeline.Tests;

/// <summary>
/// The test suites of Inference, Service and Evaluation run on ONNX fixtures, so their outputs, like the libraries
/// they test, must carry no TorchSharp and none of libtorch's native libraries (about 520 MB).
/// </summary>
[TestFixture]
public sealed class ArchitectureTests
{
    [Test]
    public void No_TorchSharp_Or_Libtorch_In_This_Test_Output()
    {
        var output = TestContext.CurrentContext.TestDirectory;
        var found = Directory.EnumerateFiles(output, "*", SearchOption.AllDirectories)
            .Select(f => Path.GetRelativePath(output, f))
            .Where(f => f.Contains("TorchSharp", StringComparison.OrdinalIgnoreCase) || Path.GetFileName(f).StartsWith("libtorch", StringComparison.Ordinal)
                        || Path.GetFileName(f).StartsWith("libc10", StringComparison.Ordinal))
            .ToList();
        Assert.That(found, Is.Empty, "a project reference brought TorchSharp into this output");

        var deps = Path.Combine(output, typeof(ArchitectureTests).Assembly.GetName().Name + ".deps.json");
        Assert.That(File.ReadAllText(deps), Does.Not.Contain("TorchSharp").And.Not.Contain("GrpoPipeline.Training"),
            "this test project's dependency graph reaches TorchSharp or the trainer");
        Assert.That(AppDomain.CurrentDomain.GetAssemblies().Select(a => a.GetName().Name), Has.None.StartsWith("TorchSharp"));
    }
}
