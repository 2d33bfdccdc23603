using GrpoPipeline.Tests;
using NUnit.Framework;

namespace GrpoPipeline.Service.Tests;

/// <summary>
/// The models the service tests serve (committed ONNX fixtures, see <see cref="Fixtures"/>): two lecture-task models of
/// the same shape (L=3, V=5) with different weights, a random-task model of another shape (L=4, V=6), a decoder (lengths
/// 1..6, V=8), and a file that is not a model.
/// </summary>
[SetUpFixture]
public sealed class TestModels
{
    static TempDir? _temp;

    /// <summary>Lecture task, L=3 V=5, trained so its greedy responses are not all alike.</summary>
    public static string Lecture => Fixtures.Lecture;
    /// <summary>Lecture task, L=3 V=5, other initial weights and run name.</summary>
    public static string LectureB => Fixtures.LectureUntrained;
    /// <summary>Random task, L=4 V=6.</summary>
    public static string Random => Fixtures.SmallUntrained;
    /// <summary>A decoder (decoder/1), lengths 1..6 V=8: takes the lecture model's prompts too.</summary>
    public static string Decoder => Fixtures.Decoder;
    /// <summary>Not an ONNX model: the first half of <see cref="LectureB"/>.</summary>
    public static string Truncated { get; private set; } = null!;

    public const string LectureRun = Fixtures.LectureRun;
    public const string LectureBRun = Fixtures.LectureUntrainedRun;
    public const string RandomRun = Fixtures.SmallRun;
    public const string DecoderRun = Fixtures.DecoderRun;

    [OneTimeSetUp]
    public void CreateTemp()
    {
        _temp = new TempDir("service");
        Truncated = ModelFiles.Truncated(_temp.Root, LectureB);
    }

    [OneTimeTearDown]
    public void DeleteTemp() => _temp?.Dispose();

    /// <summary>A fresh, empty folder under the run's temp folder.</summary>
    public static string NewTempDir(string prefix)
    {
        var dir = _temp!.NewPath(prefix);
        Directory.CreateDirectory(dir);
        return dir;
    }

    public static void DeleteDir(string? dir)
    {
        if (dir is not null && Directory.Exists(dir)) Directory.Delete(dir, recursive: true);
    }

    /// <inheritdoc cref="ModelFiles.ServedCopy"/>
    public static string ServedCopy(string dir, string source) => ModelFiles.ServedCopy(dir, source);

    /// <inheritdoc cref="ModelFiles.ReplaceAtomically"/>
    public static void ReplaceAtomically(string target, string source) => ModelFiles.ReplaceAtomically(target, source);
}
