using GrpoPipeline.Core;
using GrpoPipeline.Training.Onnx;
using NUnit.Framework;

namespace GrpoPipeline.Training.Tests.Export;

/// <summary>
/// Every policy kind exports a model that the reference checker accepts with full checks (onnx.checker with
/// <c>full_check=True</c>: the IR, every operator against opset 17, and strict shape inference over the graph).
/// </summary>
[TestFixture, NonParallelizable]   // torch's global generator seeds the initial weights
public sealed class OnnxCheckerTests
{
    const string Check = """
        import sys, onnx
        for path in sys.argv[1:]:
            model = onnx.load(path)
            onnx.checker.check_model(model, full_check=True)
            print(path, "ir", model.ir_version, "opset", [o.version for o in model.opset_import][0])
        """;

    [Test]
    public void Seed_Transformer_And_Decoder_Exports_Pass_Onnx_Checker_Full_Check()
    {
        DebianPython.Require("onnx", "python3-onnx");
        var task = new TaskOptions { Kind = TaskKind.Random, PromptLength = 4, VocabSize = 6, BatchSize = 8, HeldOutSize = 0 };
        var variable = new TaskOptions { Kind = TaskKind.Variable, MinLength = 1, MaxLength = 5, VocabSize = 6, BatchSize = 8, HeldOutSize = 0 };
        var paths = new[]
        {
            Export("seed", task, new PolicyOptions()),
            Export("transformer", task, new PolicyOptions { Kind = PolicyKind.Transformer, DModel = 16, Heads = 2, Layers = 2, MlpDim = 32 }),
            Export("decoder", variable, new PolicyOptions { Kind = PolicyKind.Decoder, DModel = 16, Heads = 2, Layers = 3, MlpDim = 32 }),
        };

        var result = DebianPython.Run(["-c", Check, .. paths]);
        TestContext.Out.WriteLine(result.StdOut);
        Assert.That(result.ExitCode, Is.EqualTo(0), result.StdErr);
        Assert.That(result.StdOut.Split('\n', StringSplitOptions.RemoveEmptyEntries), Has.Length.EqualTo(3).And.All.Contain($"ir {OnnxContract.IrVersion} opset {OnnxContract.Opset}"));
    }

    static string Export(string name, TaskOptions task, PolicyOptions policy)
    {
        var config = new TrainConfig { RunName = $"checker-{name}", Task = task, Policy = policy, Run = new RunOptions { Threads = 1 } };
        using var state = TrainingState.Create(config);
        var path = ExportedModels.NewPath($"{name}.onnx");
        OnnxExporter.Export(state.Policy, state.Shape, state.Config, state.Epoch, path);
        return path;
    }
}
