using NUnit.Framework;

namespace GrpoPipeline.Inference.Tests;

/// <summary>Loading and disposing releases the native session cleanly; a disposed policy refuses work.</summary>
[TestFixture]
public sealed class DisposeTests
{
    [Test]
    public void Load_And_Dispose_50_Times_Works()
    {
        var prompt = new long[] { 3, 1, 2 };
        long[]? first = null;
        for (int i = 0; i < 50; i++)
        {
            using var policy = OnnxPolicy.Load(TestModels.Lecture);
            var response = policy.Respond(prompt);
            first ??= response;
            Assert.That(response, Is.EqualTo(first), $"load {i}");
        }
    }

    [Test]
    public void Disposing_Twice_Does_Not_Throw()
    {
        var policy = OnnxPolicy.Load(TestModels.Lecture);
        policy.Dispose();
        Assert.That(policy.Dispose, Throws.Nothing);
    }

    /// <summary>
    /// Runs in a child process: a call that reaches ONNX Runtime with a released session can crash natively, and
    /// that must fail this test, not abort the whole run.
    /// </summary>
    [TestCase("Sort")]
    [TestCase("RespondBatch")]
    [TestCase("Logits")]
    [TestCase("LogitsBatch")]
    [TestCase("Sample")]
    public void Calls_After_Dispose_Throw_Instead_Of_Crashing(string method)
    {
        var (exitCode, output) = Program.RunChild(Program.UseAfterDispose, TestModels.Lecture, method);
        string crash = exitCode > 128 ? $" (killed by signal {exitCode - 128})" : "";
        Assert.That(exitCode, Is.EqualTo(0),
            $"{method} after Dispose should throw ObjectDisposedException; the child exited with {exitCode}{crash}. Output: {output}");
        Assert.That(output, Does.Contain($"{method} after Dispose threw"));
    }
}
