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
        var version = meta.GetValueOrDefault(OnnxContract.Metadata.Contract, OnnxContract.LegacySorterVersion);   // before the key: a sorter
        var (spec, sizes, prompts) = version switch
        {
            OnnxContract.DecoderVersion => Decoder(meta, path),
            OnnxContract.LegacySorterVersion => Factorised(meta, path),
            _ when version == OnnxContract.Factorised.Version => Factorised(meta, path),
            _ => Fail<(ContractSpec, IReadOnlyDictionary<string, long>, PromptRules)>(path,
                $"metadata '{OnnxContract.Metadata.Contract}' to be one of {string.Join(", ", OnnxContract.Versions)}", $"'{version}'"),
        };
        foreach (var input in spec.Inputs) Expect(session.InputMetadata, input, sizes, path, "input");
        foreach (var output in spec.Outputs) Expect(session.OutputMetadata, output, sizes, path, "output");
        if (session.InputMetadata.Count != spec.Inputs.Count)
            Fail(path, $"inputs {Names(spec.Inputs.Select(i => i.Name))}", $"inputs {Names(session.InputMetadata.Keys)}");
        bool decoder = spec.Version == OnnxContract.DecoderVersion;
        // Responses: one per prompt token, or a decoder's longest, EOS included (maxLength + 1 before the key was written).
        int maxResponse = decoder && meta.ContainsKey(OnnxContract.Metadata.ResponseLength) ? IntMetadata(meta, OnnxContract.Metadata.ResponseLength, path)
            : decoder ? prompts.MaxLength + 1 : prompts.MaxLength;
        var (task, unavailable) = Task(meta, path, prompts, decoder);
        return new PolicyContract
        {
            Path = path, Spec = spec, Sizes = sizes, Prompts = prompts, Metadata = meta.AsReadOnly(), MaxResponseLength = maxResponse,
            TaskName = ModelTask.Name(meta), Task = task, RewardsUnavailable = unavailable,
        };
    }

    /// <summary>
    /// The model's task, rebuilt from its metadata when it is registered in this process (a built-in one, or one the app
    /// registered); else null, and why. A rebuilt task must take the prompts the model's input takes.
    /// </summary>
    static (VerifiableTask? Task, string? Unavailable) Task(IReadOnlyDictionary<string, string> meta, string path, PromptRules prompts, bool decoder)
    {
        var name = ModelTask.Name(meta);
        if (!TaskRegistry.IsRegistered(name))
            return (null, $"task '{name}' is not registered in this app, so responses are not scored; register it before the model is loaded " +
                $"(TaskRegistry.Register(\"{name}\", options => new YourTask(options)), or services.AddGrpoTask(…) in a host)");
        TaskOptions? options;
        try { options = ModelTask.Options(meta, path); }
        catch (InvalidDataException e) { throw new OnnxContractException(e.Message, e); }
        // Sorting models exported before the task options were written: the sorting task of the model's own prompts.
        options ??= name == SortTask.TaskName
            ? decoder ? new TaskOptions { Kind = TaskKind.Variable, MinLength = prompts.MinLength, MaxLength = prompts.MaxLength, VocabSize = prompts.VocabSize }
                      : new TaskOptions { Kind = TaskKind.Random, PromptLength = prompts.MaxLength, VocabSize = prompts.VocabSize }
            : Fail<TaskOptions>(path, $"metadata '{OnnxContract.Metadata.TaskOptions}' (the options of task '{name}')", "no such key");
        VerifiableTask task;
        try { task = TaskRegistry.Create(options); }
        catch (ConfigException e) { throw new OnnxContractException($"'{path}': task '{name}' cannot be rebuilt from its metadata: {e.Message}", e); }
        if (task.Rules != prompts || task.IsVariableLength != decoder)
            Fail(path, $"its task '{name}' to take the prompts its input takes ({Describe(prompts)}{(decoder ? ", variable length" : "")})",
                $"{Describe(task.Rules)}{(task.IsVariableLength ? ", variable length" : "")}");
        return (task, null);
    }

    /// <summary>A model's prompts in a message: <c>L=4, V=6</c>, or <c>lengths 1..6, V=8</c>.</summary>
    internal static string Describe(PromptRules rules) =>
        rules.MinLength == rules.MaxLength ? $"L={rules.MaxLength}, V={rules.VocabSize}" : $"lengths {rules.LengthRange}, V={rules.VocabSize}";

    static (ContractSpec, IReadOnlyDictionary<string, long>, PromptRules) Factorised(IReadOnlyDictionary<string, string> meta, string path)
    {
        int length = IntMetadata(meta, OnnxContract.Metadata.PromptLength, path);
        int vocab = IntMetadata(meta, OnnxContract.Metadata.VocabSize, path);
        return (OnnxContract.Factorised, OnnxContract.FactorisedSizes(length, vocab), PromptRules.Fixed(length, vocab));
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
        var positions = meta.GetValueOrDefault(OnnxContract.Metadata.Positions, OnnxContract.PositionsFromPromptStart);
        if (!OnnxContract.PositionSchemes.Contains(positions))
            Fail(path, $"metadata '{OnnxContract.Metadata.Positions}' to be one of {string.Join(", ", OnnxContract.PositionSchemes)}", $"'{positions}'");
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
