using NUnit.Framework;
using TorchSharp;

namespace GrpoPipeline.Training.Tests.ScalarSafety;

/// <summary>
/// Keeps the class of bug out: no code of ours reaches a TorchSharp API that makes a temporary Scalar, and the
/// analyzer's list (<c>build/BannedSymbols.txt</c>) names every such API of the TorchSharp version in use.
/// </summary>
[TestFixture]
public sealed class ScalarSafetyTests
{
    const string Marker = "// ---- generated from TorchSharp's IL by ScalarSafetyTests; do not edit below ----";
    const string Description = "makes a Scalar that nothing keeps alive during the native call (another thread's collection can free it): write a + b as a.add(b, Scalars.One), take constants from Scalars (Zero, One, Two, Half) and run-time values from a ScalarScope (using var s = new ScalarScope(); t * s[0.5]); build/BannedSymbols.txt says why";

    static readonly Lazy<TemporaryScalarScan> Scan = new(() => new TemporaryScalarScan(typeof(Scalar).Assembly.Location));

    static string BannedSymbolsPath => Path.Combine(TestConfigs.RepoRoot(), "build", "BannedSymbols.txt");

    [Test]
    public void The_Analyzer_Bans_Every_TorchSharp_Api_That_Makes_A_Temporary_Scalar()
    {
        var lines = File.ReadAllLines(BannedSymbolsPath);
        int marker = Array.IndexOf(lines, Marker);
        Assert.That(marker, Is.GreaterThanOrEqualTo(0), $"{BannedSymbolsPath} has no line '{Marker}'");
        var listed = lines.Skip(marker + 1).Where(l => l.Length > 0).ToList();
        var expected = Scan.Value.Banned.Select(id => $"{id};{Description}").ToList();

        if (!listed.SequenceEqual(expected))
        {
            // Written next to the test output, so a TorchSharp upgrade is one copy away from an up-to-date list.
            var regenerated = Path.Combine(TestContext.CurrentContext.WorkDirectory, "BannedSymbols.txt");
            File.WriteAllLines(regenerated, lines.Take(marker + 1).Concat(expected));
            Assert.Fail($"{BannedSymbolsPath} is out of date for TorchSharp {typeof(Scalar).Assembly.GetName().Version}: " +
                        $"{Ids(expected).Except(Ids(listed)).Count()} missing, {Ids(listed).Except(Ids(expected)).Count()} no longer needed, " +
                        $"{expected.Count(e => !listed.Contains(e)) - Ids(expected).Except(Ids(listed)).Count()} with another message. " +
                        $"An up-to-date file is at {regenerated}: review it and copy it over.");
        }
    }

    static IEnumerable<string> Ids(IEnumerable<string> entries) => entries.Select(e => e.Split(';')[0]);

    /// <summary>
    /// The premise of the scan: it finds the two call paths of the crashes that started this, Adam's step (a temporary
    /// <c>/ Math.Sqrt(...)</c>) and a tensor add (its α = 1). A scan that missed them would prove nothing about the rest.
    /// </summary>
    static void ScanFindsTheKnownCrashes()
    {
        Assert.That(Scan.Value.Banned, Does.Contain("M:TorchSharp.Modules.Adam.step(System.Func{TorchSharp.torch.Tensor})"));
        Assert.That(Scan.Value.Banned, Does.Contain("M:TorchSharp.torch.Tensor.op_Addition(TorchSharp.torch.Tensor,TorchSharp.torch.Tensor)"));
        Assert.That(Scan.Value.Banned, Does.Contain("M:TorchSharp.torch.Tensor.add_(TorchSharp.torch.Tensor)"));
        Assert.That(Scan.Value.Banned, Does.Contain("M:TorchSharp.Scalar.op_Implicit(System.Double)~TorchSharp.Scalar"));
        Assert.That(Scan.Value.Banned, Does.Not.Contain("M:TorchSharp.torch.Tensor.add(TorchSharp.torch.Tensor,TorchSharp.Scalar)"),
            "an add with an explicit α makes no Scalar of its own");
    }

    // The compiled code, whatever the source says (a suppressed warning, a call the analyzer cannot see).
    [TestCase("GrpoPipeline.Training")]
    [TestCase("GrpoPipeline.Training.Tests")]
    public void No_Compiled_Code_Reaches_A_Temporary_Scalar(string assembly)
    {
        ScanFindsTheKnownCrashes();
        var path = Path.Combine(TestContext.CurrentContext.TestDirectory, assembly + ".dll");
        // Scalars and ScalarScope are where owned Scalars are made; the scan itself only reads IL.
        var sites = Scan.Value.CallSites(path, exempt: t => t.Name is nameof(Scalars) or nameof(ScalarScope) or nameof(TemporaryScalarScan) or nameof(ScalarSafetyTests));
        Assert.That(sites, Is.Empty, $"{assembly} makes temporary Scalars:\n  " + string.Join("\n  ", sites));
    }
}
