using GrpoPipeline.Core;
using GrpoPipeline.Inference;

namespace GrpoPipeline.Evaluation;

/// <summary>How <see cref="PolicyEvaluator"/> runs the models.</summary>
public sealed record EvaluatorOptions
{
    /// <summary>Prompts per ML.NET row (one ONNX run each); 1 = one prompt per row. Default 1024.</summary>
    public int PromptsPerRow { get; init; } = MlNetScorer.DefaultPromptsPerRow;
    /// <summary>ONNX Runtime intra-op threads per model. Default 1, as <see cref="SorterPolicyOptions"/>.</summary>
    public int Threads { get; init; } = 1;

    public void Validate()
    {
        ConfigException.Require(PromptsPerRow is >= 1 and <= 65536, "promptsPerRow", PromptsPerRow, "1..65536");
        ConfigException.Require(Threads is >= 1 and <= 256, "threads", Threads, "1..256");
    }
}

/// <summary>
/// Evaluates exported sorter policies on held-out prompts with ML.NET and ranks them.
/// </summary>
/// <example>
/// <code>
/// var report = PolicyEvaluator.Evaluate(["models/a.onnx", "models/b.onnx"], HeldOutSource.FromSplit(1000, seed: 7));
/// ReportWriter.Write(report, "models/reports/latest");
/// </code>
/// </example>
public static class PolicyEvaluator
{
    /// <summary>Evaluates every model on the same source of prompts; the report is the leaderboard, best first.</summary>
    /// <exception cref="FileNotFoundException">A model path does not exist.</exception>
    /// <exception cref="OnnxContractException">A file is not a GrpoPipeline sorter, or its split disagrees with its
    /// own input shape.</exception>
    /// <exception cref="EvaluationException">A bad CSV line, a model without a split, or no prompt a model can take.</exception>
    public static EvaluationReport Evaluate(IReadOnlyList<string> modelPaths, HeldOutSource heldOut, EvaluatorOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(modelPaths);
        ArgumentNullException.ThrowIfNull(heldOut);
        if (modelPaths.Count == 0) throw new ArgumentException("no models to evaluate", nameof(modelPaths));
        options ??= new EvaluatorOptions();
        options.Validate();
        // Fail on a missing file before spending time on the others.
        foreach (var path in modelPaths)
            if (!File.Exists(path)) throw new FileNotFoundException($"no ONNX model at '{path}'", path);
        var csv = heldOut is HeldOutSource.Csv file ? PromptCsv.Read(file.Path) : null;
        return EvaluationReport.Rank(heldOut.ToString()!, modelPaths.Select(path => EvaluateModel(Path.GetFullPath(path), heldOut, csv, options)).ToList());
    }

    static ModelEvaluation EvaluateModel(string path, HeldOutSource heldOut, IReadOnlyList<CsvPrompt>? csv, EvaluatorOptions options)
    {
        var (model, prompts, invalid, source) = Prepare(path, heldOut, csv);
        if (prompts.Count == 0)
            throw new EvaluationException($"'{path}' can take none of the {invalid.Count} prompts (L={model.PromptLength}, V={model.VocabSize}); first: line {invalid[0].Line}: {invalid[0].Reason}");
        var metrics = new SortMetrics(model.PromptLength);
        using (var scorer = new MlNetScorer(path, model.PromptLength, options.PromptsPerRow, options.Threads))
            scorer.Score(prompts, (i, response) => metrics.Add(prompts[i], response));
        return ModelEvaluation.From(model, source, metrics.Summary(), invalid);
    }

    /// <summary>Checks the model against the contract, reads its metadata, and picks the prompts it can take.</summary>
    internal static (ModelInfo Model, IReadOnlyList<long[]> Prompts, IReadOnlyList<InvalidPrompt> Invalid, string Source) Prepare(
        string path, HeldOutSource heldOut, IReadOnlyList<CsvPrompt>? csv)
    {
        // SorterPolicy.Load is the contract check: names, element types, ranks, and the L and V metadata.
        using var policy = SorterPolicy.Load(path, new SorterPolicyOptions { WarmUp = false });
        var model = new ModelInfo(path, policy.RunName, policy.Epoch, policy.PolicyKind, policy.PromptLength, policy.VocabSize);
        switch (heldOut)
        {
            case HeldOutSource.Split split:
            {
                var task = HeldOutSplit.FromMetadata(policy.Metadata, path);
                if (task.Length != model.PromptLength || task.Vocab != model.VocabSize)
                    throw new OnnxContractException(
                        $"'{path}' does not follow the GrpoPipeline sorter contract: expected its held-out split to have L={model.PromptLength}, V={model.VocabSize} like its input, found L={task.Length}, V={task.Vocab}");
                ulong seed = split.Seed ?? task.HeldOutSeed;
                var prompts = HeldOutSplit.Prompts(task, split.Count, seed, path);
                var rule = task.Kind == TaskKind.Fixed ? "fixed-task complement" : $"salt {task.SplitSalt}, fraction {task.HeldOutFraction}";
                return (model, prompts, [], $"held-out split ({rule}), seed {seed}, {prompts.Count} of {split.Count} asked");
            }
            case HeldOutSource.Csv file:
            {
                var prompts = new List<long[]>(csv!.Count);
                var invalid = new List<InvalidPrompt>();
                foreach (var p in csv)
                {
                    if (Misfit(p.Tokens, model) is { } reason) invalid.Add(new InvalidPrompt(p.Line, string.Join(' ', p.Tokens), reason));
                    else prompts.Add(p.Tokens);
                }
                return (model, prompts, invalid, $"CSV {Path.GetFullPath(file.Path)}");
            }
            default:
                throw new ArgumentException($"unknown held-out source {heldOut.GetType().Name}", nameof(heldOut));
        }
    }

    /// <summary>Why <paramref name="prompt"/> does not fit the model, or null when it does.</summary>
    static string? Misfit(long[] prompt, ModelInfo model)
    {
        if (prompt.Length != model.PromptLength)
            return $"length {prompt.Length}; the model takes prompts of length {model.PromptLength}";
        for (int i = 0; i < prompt.Length; i++)
            if (prompt[i] < 0 || prompt[i] >= model.VocabSize)
                return $"token {prompt[i]} at position {i} is outside the vocabulary 0..{model.VocabSize - 1}";
        return null;
    }
}
