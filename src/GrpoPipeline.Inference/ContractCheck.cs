using GrpoPipeline.Core;
using Microsoft.ML.OnnxRuntime;
using OrtElementType = Microsoft.ML.OnnxRuntime.Tensors.TensorElementType;

namespace GrpoPipeline.Inference;

/// <summary>
/// Checks a loaded session against the contract its metadata names (<see cref="OnnxContract.Versions"/>): every input and
/// output of the description with its element type and dimensions, nothing else as input, and the metadata that fixes
/// the sizes. Every failure says what was expected and what was found.
/// </summary>
static class ContractCheck
{
    public static PolicyContract Validate(InferenceSession session, string path)
    {
        var meta = session.ModelMetadata.CustomMetadataMap;
        var version = meta.GetValueOrDefault(OnnxContract.Metadata.Contract, OnnxContract.Sorter.Version);   // before the key: a sorter
        var (spec, sizes, prompts) = version switch
        {
            OnnxContract.DecoderVersion => Decoder(meta, path),
            _ when version == OnnxContract.Sorter.Version => Sorter(meta, path),
            _ => Fail<(ContractSpec, IReadOnlyDictionary<string, long>, PromptRules)>(path,
                $"metadata '{OnnxContract.Metadata.Contract}' to be one of {string.Join(", ", OnnxContract.Versions)}", $"'{version}'"),
        };
        // Responses are scored with sorting's rewards here; a model of another task must not be scored as a sorter.
        var task = meta.GetValueOrDefault(OnnxContract.Metadata.Task, SortTask.TaskName);
        if (task != SortTask.TaskName)
            Fail(path, $"metadata '{OnnxContract.Metadata.Task}' = '{SortTask.TaskName}': Inference, the service and the evaluation score sorting models only, for now", $"'{task}'");
        foreach (var input in spec.Inputs) Expect(session.InputMetadata, input, sizes, path, "input");
        foreach (var output in spec.Outputs) Expect(session.OutputMetadata, output, sizes, path, "output");
        if (session.InputMetadata.Count != spec.Inputs.Count)
            Fail(path, $"inputs {Names(spec.Inputs.Select(i => i.Name))}", $"inputs {Names(session.InputMetadata.Keys)}");
        return new PolicyContract { Path = path, Spec = spec, Sizes = sizes, Prompts = prompts, Metadata = meta.AsReadOnly() };
    }

    static (ContractSpec, IReadOnlyDictionary<string, long>, PromptRules) Sorter(IReadOnlyDictionary<string, string> meta, string path)
    {
        int length = IntMetadata(meta, OnnxContract.Metadata.PromptLength, path);
        int vocab = IntMetadata(meta, OnnxContract.Metadata.VocabSize, path);
        return (OnnxContract.Sorter, OnnxContract.SorterSizes(length, vocab), PromptRules.Fixed(length, vocab));
    }

    /// <summary>A decoder's sizes come from its metadata, and its special ids must be the fixed ones after V.</summary>
    static (ContractSpec, IReadOnlyDictionary<string, long>, PromptRules) Decoder(IReadOnlyDictionary<string, string> meta, string path)
    {
        int vocab = IntMetadata(meta, OnnxContract.Metadata.VocabSize, path);
        int min = IntMetadata(meta, OnnxContract.Metadata.MinLength, path);
        int max = IntMetadata(meta, OnnxContract.Metadata.MaxLength, path);
        if (min > max) Fail(path, $"metadata '{OnnxContract.Metadata.MinLength}' ≤ '{OnnxContract.Metadata.MaxLength}' ({max})", $"{min}");
        var special = SpecialTokens.For(vocab);
        ExpectMetadata(meta, OnnxContract.Metadata.SepToken, special.Sep, path);
        ExpectMetadata(meta, OnnxContract.Metadata.EosToken, special.Eos, path);
        ExpectMetadata(meta, OnnxContract.Metadata.PadToken, special.Pad, path);
        int layers = IntMetadata(meta, OnnxContract.Metadata.Layers, path);
        int heads = IntMetadata(meta, OnnxContract.Metadata.Heads, path);
        int headDim = IntMetadata(meta, OnnxContract.Metadata.HeadDim, path);
        return (OnnxContract.Decoder(layers), OnnxContract.DecoderSizes(vocab, heads, headDim), new PromptRules(min, max, vocab));
    }

    static void ExpectMetadata(IReadOnlyDictionary<string, string> meta, string key, long value, string path)
    {
        if (IntMetadata(meta, key, path) != value) Fail(path, $"metadata '{key}' = {value} (fixed after the vocabulary)", $"'{meta[key]}'");
    }

    static void Expect(IReadOnlyDictionary<string, NodeMetadata> values, TensorSpec spec, IReadOnlyDictionary<string, long> sizes, string path, string role)
    {
        string expected = spec.Describe(role, sizes);
        if (!values.TryGetValue(spec.Name, out var value))
            Fail(path, expected, $"{role}s {Names(values.Keys)}");
        var dims = spec.Resolve(sizes);
        if (value!.OnnxValueType != OnnxValueType.ONNX_TYPE_TENSOR || value.ElementDataType != OrtType(spec.ElementType) || value.Dimensions.Length != dims.Length)
            Fail(path, expected, $"{value.OnnxValueType} {value.ElementDataType} of rank {value.Dimensions.Length}");
        for (int i = 0; i < dims.Length; i++)
            if (dims[i] is { } size && value.Dimensions[i] != size)
                Fail(path, expected, $"dimension {i} = {value.Dimensions[i]}");
    }

    static OrtElementType OrtType(TensorElementType type) => type switch
    {
        TensorElementType.Int64 => OrtElementType.Int64,
        TensorElementType.Float32 => OrtElementType.Float,
        _ => throw new ArgumentOutOfRangeException(nameof(type), type, null),
    };

    static int IntMetadata(IReadOnlyDictionary<string, string> meta, string key, string path)
    {
        if (!meta.TryGetValue(key, out var text))
            Fail(path, $"metadata '{key}'", "no such key (is this a GrpoPipeline policy?)");
        if (!int.TryParse(text, out var value) || value < 1)
            Fail(path, $"metadata '{key}' to be a positive integer", $"'{text}'");
        return value;
    }

    static string Names(IEnumerable<string> names) => string.Join(", ", names.Select(n => $"'{n}'"));

    static void Fail(string path, string expected, string found) => Fail<object>(path, expected, found);

    static T Fail<T>(string path, string expected, string found) =>
        throw new OnnxContractException($"'{path}' does not follow the GrpoPipeline policy contract: expected {expected}, found {found}");
}
