using System.Reflection;
using System.Text.Json;
using Google.Protobuf;
using GrpoPipeline.Core;
using GrpoPipeline.Training.Onnx;
using GrpoPipeline.Training.Policies;
using GrpoPipeline.Training.Onnx.Proto;
using static TorchSharp.torch;

namespace GrpoPipeline.Training;

/// <summary>
/// Exports a trained policy to an ONNX file that follows <see cref="OnnxContract"/>: a factorised policy as
/// <c>factorised/1</c> (input <c>prompts</c> int64 [batch, L], outputs <c>logits</c> float32 [batch, L, V] and
/// <c>response</c> int64 [batch, L], the greedy argmax), a decoder as <c>decoder/1</c> (one decode step with a KV
/// cache, see <see cref="OnnxContract.Decoder"/>); each policy kind writes its own graph (<see cref="GrpoPolicy"/>). Opset 17, IR 8, built from Gather/MatMul/Gemm/Reshape (ORT's CPU
/// Einsum is much slower than MatMul).
/// </summary>
public static class OnnxExporter
{
    /// <summary>Loads the checkpoint (a run directory's latest, or a checkpoint folder) and writes the model atomically.</summary>
    public static CheckpointManifest Export(string runOrCheckpointDir, string outputPath) =>
        Checkpoint.Use(runOrCheckpointDir, state => Export(state.Policy, state.Shape, state.Config, state.Epoch, outputPath));

    /// <summary>Writes <paramref name="policy"/> as an ONNX model, atomically (temp file, then rename).</summary>
    public static void Export(GrpoPolicy policy, PolicyShape shape, TrainConfig config, int epoch, string outputPath) =>
        Write(BuildModel(policy, shape, config, epoch), outputPath);

    /// <summary>The ONNX model of <paramref name="policy"/>, with the contract's metadata.</summary>
    internal static ModelProto BuildModel(GrpoPolicy policy, PolicyShape shape, TrainConfig config, int epoch)
    {
        using var _ = no_grad();
        var graph = new OnnxGraphBuilder($"grpo_{shape.Options.Kind.ToString().ToLowerInvariant()}");
        policy.WriteOnnx(graph, shape);
        var model = new ModelProto
        {
            IrVersion = OnnxContract.IrVersion,
            ProducerName = OnnxContract.ProducerName,
            ProducerVersion = ProducerVersion,
            Domain = "ai.grpopipeline",
            ModelVersion = epoch,
            DocString = policy.OnnxDoc,
            Graph = graph.Graph,
        };
        model.OpsetImport.Add(new OperatorSetIdProto { Domain = "", Version = OnnxContract.Opset });
        foreach (var (key, value) in Metadata(policy, shape, config, epoch))
            model.MetadataProps.Add(new StringStringEntryProto { Key = key, Value = value });
        return model;
    }

    /// <summary>
    /// This build's version without the source-control suffix (<c>0.2.0</c>, not <c>0.2.0+3f2a…</c>), so the same
    /// policy exports to the same bytes from any commit of one version.
    /// </summary>
    static string ProducerVersion =>
        (typeof(OnnxExporter).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion ?? "0").Split('+')[0];

    static IEnumerable<(string, string)> Metadata(GrpoPolicy policy, PolicyShape shape, TrainConfig config, int epoch)
    {
        yield return (OnnxContract.Metadata.Contract, policy.OnnxContractVersion);
        yield return (OnnxContract.Metadata.Task, config.Task.Name);
        yield return (OnnxContract.Metadata.Policy, JsonNamingPolicy.SnakeCaseLower.ConvertName(shape.Options.Kind.ToString()));
        yield return (OnnxContract.Metadata.VocabSize, shape.Vocab.ToString());
        yield return (OnnxContract.Metadata.PromptLength, shape.PromptLength.ToString());
        yield return (OnnxContract.Metadata.ResponseLength, shape.ResponseLength.ToString());
        foreach (var entry in policy.OnnxMetadata(TaskRegistry.Create(config.Task))) yield return entry;
        yield return (OnnxContract.Metadata.Run, config.RunName);
        yield return (OnnxContract.Metadata.Epoch, epoch.ToString());
        yield return (OnnxContract.Metadata.Config, config.ToJson());
        yield return (OnnxContract.Metadata.TaskOptions, JsonSerializer.Serialize(config.Task, TrainConfig.Json));
    }

    /// <summary>Writes the model to a temporary file and renames it into place.</summary>
    internal static void Write(ModelProto model, string outputPath) => AtomicFile.Write(outputPath, model.WriteTo);
}
