using GrpoPipeline.Tests;
using NUnit.Framework;

namespace GrpoPipeline.Inference.Tests;

/// <summary>
/// The models the fixtures share (committed ONNX files, see <see cref="Fixtures"/>) and a temp folder for the files
/// tests write, deleted when the run ends.
/// </summary>
[SetUpFixture]
public sealed class TestModels
{
    static TempDir? _temp;

    /// <summary>Random prompts, L=6 V=12, trained.</summary>
    public static string Random => Fixtures.Random;
    /// <summary>The lecture's task, L=3 V=5, trained.</summary>
    public static string Lecture => Fixtures.Lecture;
    /// <summary>A decoder (decoder/1), lengths 1..6 V=8, trained.</summary>
    public static string Decoder => Fixtures.Decoder;

    [OneTimeSetUp]
    public void CreateTemp() => _temp = new TempDir("inference");

    [OneTimeTearDown]
    public void DeleteTemp() => _temp?.Dispose();

    /// <summary>A fresh path in the run's temp folder.</summary>
    public static string NewPath(string name) => _temp!.NewPath(name);

    /// <summary><paramref name="count"/> uniform prompts of length <paramref name="length"/> over 0..vocab-1.</summary>
    public static long[][] RandomPrompts(int count, int length, int vocab, ulong seed) => Fixtures.RandomPrompts(count, length, vocab, seed);
}
