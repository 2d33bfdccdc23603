using GrpoPipeline.Core;
using GrpoPipeline.Tests;
using NUnit.Framework;

namespace GrpoPipeline.Evaluation.Tests;

/// <summary>
/// The models the fixtures share (committed ONNX files, see <see cref="Fixtures"/>) and a temp folder for the files
/// tests write, deleted when the run ends.
/// </summary>
[SetUpFixture]
public sealed class TestModels
{
    static TempDir? _temp;

    /// <summary>
    /// The task of <see cref="Trained"/> and <see cref="Untrained"/>: random prompts, L=4, V=6 (1296 prompts, about
    /// 130 held out), as <c>FixtureModels</c> trains them.
    /// </summary>
    public static TaskOptions RandomTask => new() { Kind = TaskKind.Random, PromptLength = 4, VocabSize = 6, BatchSize = 32, HeldOutSize = 64 };

    /// <summary>The trained random-task model.</summary>
    public static string Trained => Fixtures.Small;
    /// <summary>The same task and initial weights, exported before any epoch.</summary>
    public static string Untrained => Fixtures.SmallUntrained;

    [OneTimeSetUp]
    public void CreateTemp() => _temp = new TempDir("evaluation");

    [OneTimeTearDown]
    public void DeleteTemp() => _temp?.Dispose();

    /// <summary>A fresh path in the run's temp folder.</summary>
    public static string NewPath(string name) => _temp!.NewPath(name);

    /// <summary>Writes <paramref name="text"/> to a fresh file and returns its path.</summary>
    public static string WriteFile(string name, string text) => _temp!.WriteFile(name, text);

    /// <summary><paramref name="count"/> uniform prompts of length <paramref name="length"/> over 0..vocab-1.</summary>
    public static List<long[]> RandomPrompts(int count, int length, int vocab, ulong seed) => Fixtures.RandomPrompts(count, length, vocab, seed).ToList();
}
