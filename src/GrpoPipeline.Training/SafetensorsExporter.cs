using System.Buffers.Binary;
using System.Text;
using System.Text.Json;
using GrpoPipeline.Core;
using static TorchSharp.torch;

namespace GrpoPipeline.Training;

/// <summary>
/// The JSON written beside an exported <c>.safetensors</c> file: the policy's kind and shape and the full config, enough
/// to rebuild the model in any framework, in the strict format of checkpoints (<see cref="TrainConfig.Json"/>).
/// </summary>
public sealed record SafetensorsManifest
{
    /// <summary>The manifest's format, <see cref="SafetensorsExporter.FormatVersion"/> when written.</summary>
    public int FormatVersion { get; init; }
    /// <summary>File name of the weights, next to this file.</summary>
    public required string Weights { get; init; }
    /// <summary>Completed epochs of the exported weights.</summary>
    public int Epoch { get; init; }
    /// <summary>The policy's options and shape: enough to rebuild the model.</summary>
    public required PolicyShape Shape { get; init; }
    /// <summary>The full config of the run the weights come from.</summary>
    public required TrainConfig Config { get; init; }
}

/// <summary>
/// Exports a policy's weights as a safetensors file (huggingface/safetensors): an unsigned little-endian u64 header
/// length N, N bytes of JSON header padded with spaces to a multiple of 8, then the tensors' raw bytes. The header maps
/// every <c>state_dict()</c> name (the checkpoint's, e.g. <c>embedding.weight</c>, <c>blocks.0.qkv.weight</c>) to
/// <c>{"dtype":"F32","shape":[…],"data_offsets":[begin,end]}</c>, offsets relative to the data section, and holds a
/// <c>__metadata__</c> string map. Tensors are sorted by name and laid out contiguously in that order, row-major,
/// little-endian, so the same weights always give the same bytes. A PyTorch user loads them with
/// <c>safetensors.torch.load_file</c>, or with only <c>json</c>, <c>struct</c> and <c>torch.frombuffer</c>
/// (<c>tools/safetensors/load_seed_policy.py</c>).
/// </summary>
public static class SafetensorsExporter
{
    /// <summary>The manifest format this build writes.</summary>
    public const int FormatVersion = 1;
    /// <summary>The weights file's extension, <c>.safetensors</c>.</summary>
    public const string FileExtension = ".safetensors";

    /// <summary>The JSON manifest beside <paramref name="weightsPath"/>: same name, <c>.json</c>.</summary>
    public static string ManifestPathFor(string weightsPath) => Path.ChangeExtension(weightsPath, ".json");

    /// <summary>Loads the checkpoint (a run directory's latest, or a checkpoint folder) and writes weights and manifest.</summary>
    public static CheckpointManifest Export(string runOrCheckpointDir, string outputPath) =>
        Checkpoint.Use(runOrCheckpointDir, state => Export(state.Policy, state.Shape, state.Config, state.Epoch, outputPath));

    /// <summary>
    /// Writes <paramref name="policy"/>'s <c>state_dict()</c> to <paramref name="outputPath"/> and the manifest beside it,
    /// each atomically (temporary file, then rename).
    /// </summary>
    public static void Export(nn.Module<Tensor, Tensor> policy, PolicyShape shape, TrainConfig config, int epoch, string outputPath)
    {
        var full = Path.GetFullPath(outputPath);
        var metadata = new SortedDictionary<string, string>(StringComparer.Ordinal)
        {
            ["format"] = "pt",   // what the safetensors library writes for PyTorch tensors
            [OnnxContract.Metadata.Task] = config.Task.Name,
            [OnnxContract.Metadata.Policy] = JsonNamingPolicy.SnakeCaseLower.ConvertName(shape.Options.Kind.ToString()),
            [OnnxContract.Metadata.VocabSize] = shape.Vocab.ToString(),
            [OnnxContract.Metadata.PromptLength] = shape.PromptLength.ToString(),
            [OnnxContract.Metadata.ResponseLength] = shape.ResponseLength.ToString(),
            [OnnxContract.Metadata.Run] = config.RunName,
            [OnnxContract.Metadata.Epoch] = epoch.ToString(),
        };
        AtomicFile.Write(full, stream => Write(stream, policy.state_dict(), metadata));
        var manifest = new SafetensorsManifest { FormatVersion = FormatVersion, Weights = Path.GetFileName(full), Epoch = epoch, Shape = shape, Config = config };
        AtomicFile.Write(ManifestPathFor(full), stream => JsonSerializer.Serialize(stream, manifest, TrainConfig.Json));
    }

    /// <summary>The safetensors bytes of <paramref name="tensors"/> (all float32) and <paramref name="metadata"/>.</summary>
    public static void Write(Stream output, IReadOnlyDictionary<string, Tensor> tensors, IReadOnlyDictionary<string, string> metadata)
    {
        var names = tensors.Keys.Order(StringComparer.Ordinal).ToList();
        foreach (var name in names)
            if (tensors[name].dtype != ScalarType.Float32)
                throw new NotSupportedException($"safetensors export writes F32 only; '{name}' is {tensors[name].dtype}");

        var header = new MemoryStream();
        using (var json = new Utf8JsonWriter(header))
        {
            json.WriteStartObject();
            json.WriteStartObject("__metadata__");
            foreach (var (key, value) in metadata) json.WriteString(key, value);
            json.WriteEndObject();
            long offset = 0;
            foreach (var name in names)
            {
                var tensor = tensors[name];
                long bytes = tensor.numel() * sizeof(float);
                json.WriteStartObject(name);
                json.WriteString("dtype", "F32");
                json.WriteStartArray("shape");
                foreach (var dim in tensor.shape) json.WriteNumberValue(dim);
                json.WriteEndArray();
                json.WriteStartArray("data_offsets");
                json.WriteNumberValue(offset);
                json.WriteNumberValue(offset + bytes);
                json.WriteEndArray();
                json.WriteEndObject();
                offset += bytes;
            }
            json.WriteEndObject();
        }
        // The spec allows trailing spaces in the header; padding it to 8 bytes aligns the data section, as the
        // reference writer does, so a reader can map every tensor in place.
        while (header.Length % 8 != 0) header.WriteByte((byte)' ');

        Span<byte> length = stackalloc byte[8];
        BinaryPrimitives.WriteUInt64LittleEndian(length, (ulong)header.Length);
        output.Write(length);
        header.WriteTo(output);
        foreach (var name in names) WriteFloats(output, tensors[name]);
    }

    /// <summary>Row-major little-endian float32, whatever the tensor's strides and the machine's byte order.</summary>
    static void WriteFloats(Stream output, Tensor tensor)
    {
        using var scope = NewDisposeScope();
        var values = tensor.detach().cpu().contiguous().data<float>().ToArray();
        var bytes = new byte[values.Length * sizeof(float)];
        for (int i = 0; i < values.Length; i++) BinaryPrimitives.WriteSingleLittleEndian(bytes.AsSpan(i * sizeof(float)), values[i]);
        output.Write(bytes);
    }
}
