using NUnit.Framework;
using static TorchSharp.torch;

namespace GrpoPipeline.Training.Tests;

/// <summary>
/// libtorch's native libraries load and run. Before the GLIBCXX_3.4.32 build fix, the first tensor threw
/// a TypeInitializationException, so every other Training test failed for a reason that had nothing to do with it.
/// </summary>
[TestFixture]
public sealed class NativeLoadTests
{
    [Test]
    public void Creating_And_Reducing_A_Tensor_Works()
    {
        using var scope = NewDisposeScope();
        Assert.That(ones(3).sum().item<float>(), Is.EqualTo(3f));
    }

    /// <summary>
    /// The build fix patches the copy in this test's bin folder and never the NuGet cache, even though bin files are
    /// hard links into the cache (Directory.Build.props). When the system libstdc++ lacks GLIBCXX_3.4.32, the two copies
    /// differ only in the two-byte vna_flags field; when it has the version, they are identical.
    /// </summary>
    [Test]
    public void The_Fix_Patches_The_Output_Copy_And_Never_The_NuGet_Cache()
    {
        if (!OperatingSystem.IsLinux()) Assert.Ignore("The native fix only runs on Linux.");
        var output = Path.Combine(AppContext.BaseDirectory, "runtimes", "linux-x64", "native", "libLibTorchSharp.so");
        var cache = NuGetCacheCopy();
        if (cache is null) Assert.Ignore("TorchSharp's package folder is not in the default NuGet cache.");

        byte[] patched = File.ReadAllBytes(output), original = File.ReadAllBytes(cache!);
        Assert.That(patched, Has.Length.EqualTo(original.Length));
        var differing = Enumerable.Range(0, patched.Length).Where(i => patched[i] != original[i]).ToArray();

        if (SystemLibStdCxxHas("GLIBCXX_3.4.32"))
            Assert.That(differing, Is.Empty, "the system provides the version, so nothing is patched");
        else
        {
            Assert.That(differing, Has.Length.EqualTo(1), "only the WEAK bit of one vna_flags field changes");
            Assert.That(patched[differing[0]] ^ original[differing[0]], Is.EqualTo(0x2), "VER_FLG_WEAK");
        }
    }

    static string? NuGetCacheCopy()
    {
        var root = Environment.GetEnvironmentVariable("NUGET_PACKAGES")
                   ?? Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".nuget", "packages");
        var version = typeof(TorchSharp.torch).Assembly.GetName().Version!;
        var path = Path.Combine(root, "torchsharp", $"{version.Major}.{version.Minor}.{version.Build}",
            "runtimes", "linux-x64", "native", "libLibTorchSharp.so");
        return File.Exists(path) ? path : null;
    }

    static bool SystemLibStdCxxHas(string versionName)
    {
        var lib = new[] { "/usr/lib/x86_64-linux-gnu/libstdc++.so.6", "/lib/x86_64-linux-gnu/libstdc++.so.6", "/usr/lib64/libstdc++.so.6" }
            .FirstOrDefault(File.Exists);
        if (lib is null) return false;
        var needle = System.Text.Encoding.ASCII.GetBytes(versionName + "\0");
        return File.ReadAllBytes(lib).AsSpan().IndexOf(needle) >= 0;
    }
}
