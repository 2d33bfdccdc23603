using GrpoPipeline.Core;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;

namespace GrpoPipeline.Inference;

/// <summary>Checks a loaded session against <see cref="OnnxContract"/>; every failure says expected vs found.</summary>
static class ContractCheck
{
    public static (int PromptLength, int VocabSize) Validate(InferenceSession session, string path)
    {
        var meta = session.ModelMetadata.CustomMetadataMap;
        int length = IntMetadata(meta, OnnxContract.Metadata.PromptLength, path);
        int vocab = IntMetadata(meta, OnnxContract.Metadata.VocabSize, path);

        Expect(session.InputMetadata, OnnxContract.PromptsInput, TensorElementType.Int64, [-1, length], path, "input");
        Expect(session.OutputMetadata, OnnxContract.LogitsOutput, TensorElementType.Float, [-1, length, vocab], path, "output");
        Expect(session.OutputMetadata, OnnxContract.ResponseOutput, TensorElementType.Int64, [-1, length], path, "output");
        if (session.InputMetadata.Count != 1)
            Fail(path, $"exactly one input '{OnnxContract.PromptsInput}'", $"inputs {string.Join(", ", session.InputMetadata.Keys)}");
        return (length, vocab);
    }

    static void Expect(IReadOnlyDictionary<string, NodeMetadata> values, string name, TensorElementType type, int[] dims, string path, string kind)
    {
        string expected = $"{kind} '{name}' {type} [{string.Join(", ", dims.Select(d => d < 0 ? OnnxContract.BatchDim : d.ToString()))}]";
        if (!values.TryGetValue(name, out var value))
            Fail(path, expected, $"{kind}s {string.Join(", ", values.Keys.Select(k => $"'{k}'"))}");
        if (value!.OnnxValueType != OnnxValueType.ONNX_TYPE_TENSOR || value.ElementDataType != type || value.Dimensions.Length != dims.Length)
            Fail(path, expected, $"{value.OnnxValueType} {value.ElementDataType} of rank {value.Dimensions.Length}");
        for (int i = 1; i < dims.Length; i++)
            if (value.Dimensions[i] != dims[i])
                Fail(path, expected, $"dimension {i} = {value.Dimensions[i]}");
    }

    static int IntMetadata(IReadOnlyDictionary<string, string> meta, string key, string path)
    {
        if (!meta.TryGetValue(key, out var text))
            Fail(path, $"metadata '{key}'", "no such key (is this a GrpoPipeline sorter?)");
        if (!int.TryParse(text, out var value) || value < 1)
            Fail(path, $"metadata '{key}' to be a positive integer", $"'{text}'");
        return value;
    }

    static void Fail(string path, string expected, string found) =>
        throw new OnnxContractException($"'{path}' does not follow the GrpoPipeline sorter contract: expected {expected}, found {found}");
}
