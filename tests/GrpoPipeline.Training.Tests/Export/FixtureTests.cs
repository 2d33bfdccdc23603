using NUnit.Framework;

namespace GrpoPipeline.Training.Tests.Export;

/// <summary>
/// The ONNX fixtures committed under tests/fixtures, which the Inference, Service and Evaluation suites run on instead
/// of TorchSharp, are exactly what the trainer and the exporter produce today.
/// </summary>
[TestFixture, NonParallelizable]   // torch's global generator seeds the initial weights
public sealed class FixtureTests
{
    [Test]
    public void Committed_Fixtures_Are_Byte_Identical_To_A_Fresh_Export()
    {
        var committed = Path.Combine(TestContext.CurrentContext.TestDirectory, "fixtures");
        var fresh = ExportedModels.NewPath("fixtures");
        var written = FixtureModels.WriteAll(fresh).Select(Path.GetFileName).Order().ToList();

        Assert.That(Directory.GetFiles(committed).Select(Path.GetFileName).Order(), Is.EqualTo(written),
            "tests/fixtures holds exactly the files 'grpo fixtures' writes");
        var stale = written.Where(name => !File.ReadAllBytes(Path.Combine(committed, name!)).AsSpan().SequenceEqual(File.ReadAllBytes(Path.Combine(fresh, name!)))).ToList();
        Assert.That(stale, Is.Empty, "these fixtures differ from a fresh export; regenerate them with 'grpo fixtures --out tests/fixtures' and commit them");
    }
}
