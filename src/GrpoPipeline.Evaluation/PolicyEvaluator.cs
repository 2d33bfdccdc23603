using System.Globalization;
using GrpoPipeline.Core;
using GrpoPipeline.Inference;

namespace GrpoPipeline.Evaluation;

/// <summary>How <see cref="PolicyEvaluator"/> runs the models.</summary>
public sealed record EvaluatorOptions
{
    /// <summary>
    /// Prompts per batch, K: per ML.NET row (one ONNX run each) for a factorised policy, per decoding call for a decoder; 1 = one
    /// prompt at a time. Default 1024.
    /// </summary>
    public int PromptsPerRow { get; init; } = MlNetScorer.DefaultPromptsPerRow;
    /// <summary>ONNX Runtime intra-op threads per model. Default 1, as <see cref="OnnxPolicyOptions"/>.</summary>
    public int Threads { get; init; } = 1;

    /// <summary>Throws <see cref="ConfigException"/> naming the first bad option.</summary>
    public void Validate()
    {
        ConfigException.Require(PromptsPerRow is >= 1 and <= 65536, "promptsPerRow", PromptsPerRow, "1..65536");
        ConfigException.Require(Threads is >= 1 and <= 256, "threads", Threads, "1..256");
    }
}

/// <summary>How far an evaluation has come: reported once per model as it starts, then after each batch of K prompts.</summary>
/// <param name="Model">1-based index of the model being evaluated.</param>
/// <param name="Models">Models in the evaluation.</param>
/// <param name="ModelPath">The model being evaluated.</param>
/// <param name="PromptsScored">Prompts of this model scored so far.</param>
/// <param name="Prompts">Prompts this model will score.</param>
public readonly record struct EvaluationProgress(int Model, int Models, string ModelPath, int PromptsScored, int Prompts);

/// <summary>
/// Evaluates exported policies on held-out prompts with ML.NET and ranks them per task: a <c>factorised/1</c> model
/// through <c>ApplyOnnxModel</c> (<see cref="MlNetScorer"/>), a <c>decoder/1</c> model through
/// <see cref="DecoderTransformer"/> (<see cref="DecoderScorer"/>). Each model is scored with its own task's rewards
/// and correctness check (rebuilt from its metadata), on the prompts its task takes.
/// </summary>
/// <example>
/// <code>
/// var report = PolicyEvaluator.Evaluate(["models/a.onnx", "models/b.onnx"], HeldOutSource.FromSplit(1000, seed: 7));
/// ReportWriter.Write(report, "models/reports/latest");
/// </code>
/// </example>
public static class PolicyEvaluator
{
    /// <summary>Evaluates every model on the same source of prompts; the report is the leaderboard of each task, best first.</summary>
    /// <exception cref="FileNotFoundException">A model path does not exist.</exception>
    /// <exception cref="OnnxContractException">A file is not a GrpoPipeline model, or its split disagrees with its
    /// own input (lengths, vocabulary, fixed or variable length).</exception>
    /// <exception cref="EvaluationException">A bad CSV line, a model without a split, a model whose task is not registered
    /// in this process (<see cref="TaskRegistry.Register"/>), or no prompt a model can take.</exception>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> was cancelled; checked between batches.</exception>
    public static EvaluationReport Evaluate(IReadOnlyList<string> modelPaths, HeldOutSource heldOut, EvaluatorOptions? options = null,
        IProgress<EvaluationProgress>? progress = null, CancellationToken cancellationToken = default)
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
        var results = new List<ModelEvaluation>(modelPaths.Count);
        for (int k = 0; k < modelPaths.Count; k++)
        {
            cancellationToken.ThrowIfCancellationRequested();
            var path = Path.GetFullPath(modelPaths[k]);
            int index = k + 1;
            results.Add(EvaluateModel(path, heldOut, csv, options,
                (scored, total) => progress?.Report(new EvaluationProgress(index, modelPaths.Count, path, scored, total)), cancellationToken));
        }
        return EvaluationReport.Rank(heldOut.ToString()!, results);
    }

    static ModelEvaluation EvaluateModel(string path, HeldOutSource heldOut, IReadOnlyList<CsvPrompt>? csv, EvaluatorOptions options,
        Action<int, int> onProgress, CancellationToken cancellationToken)
    {
        var (model, prompts, invalid, source) = Prepare(path, heldOut, csv);
        if (prompts.Count == 0)
            throw new EvaluationException($"'{path}' can take none of the {invalid.Count} prompts ({Describe(model.Contract.Prompts)}); first: line {invalid[0].Line}: {invalid[0].Reason}");
        var contract = model.Contract;
        var metrics = new TaskMetrics(TaskOf(contract), contract.IsDecoder ? contract.MaxResponseLength : null);
        onProgress(0, prompts.Count);
        using (var scorer = IPolicyScorer.Create(contract, options.PromptsPerRow, options.Threads))
            scorer.Score(prompts, (i, response) => metrics.Add(prompts[i], response), scored => onProgress(scored, prompts.Count), cancellationToken);
        return ModelEvaluation.From(model, source, metrics.Summary(), invalid);
    }

    /// <summary>
    /// Checks the model against its contract, reads its metadata, and picks the prompts it can take: from its split,
    /// spread evenly over its lengths, or the CSV prompts it accepts (the rest are listed with their reason).
    /// </summary>
    internal static (ModelInfo Model, IReadOnlyList<long[]> Prompts, IReadOnlyList<InvalidPrompt> Invalid, string Source) Prepare(
        string path, HeldOutSource heldOut, IReadOnlyList<CsvPrompt>? csv)
    {
        // OnnxPolicy.Load is the contract check: names, element types, dimensions, the metadata that fixes them, and the task.
        PolicyContract contract;
        using (var policy = OnnxPolicy.Load(path, new OnnxPolicyOptions { WarmUp = false })) contract = policy.Contract;
        switch (heldOut)
        {
            case HeldOutSource.Split split:
            {
                var task = TaskOf(contract).Options;
                ulong seed = split.Seed ?? task.HeldOutSeed;
                var prompts = HeldOutSplit.Prompts(task, split.Count, seed, path);
                var rule = task.Kind == TaskKind.Fixed ? "fixed-task complement" : $"salt {task.SplitSalt}, fraction {task.HeldOutFraction}";
                int lengths = task.MaxPromptLength - task.MinPromptLength + 1;
                var spread = lengths == 1 ? "" : string.Create(CultureInfo.InvariantCulture,
                    $", spread over lengths {task.Rules.LengthRange}: up to {(split.Count + lengths - 1) / lengths} per length, all a length holds out when it holds out fewer");
                return (new ModelInfo(contract, 0), prompts, [], $"held-out split ({rule}), seed {seed}, {prompts.Count} of {split.Count} asked{spread}");
            }
            case HeldOutSource.Csv file:
            {
                var prompts = new List<long[]>(csv!.Count);
                var invalid = new List<InvalidPrompt>();
                foreach (var p in csv)
                {
                    if (contract.Problem(p.Tokens) is { } reason) invalid.Add(new InvalidPrompt(p.Line, string.Join(' ', p.Tokens), reason));
                    else prompts.Add(p.Tokens);
                }
                // A CSV may hold prompts the model trained on: scored all the same, but counted, since their score is not held out.
                var task = TaskOf(contract);
                int training = ModelTask.Options(contract.Metadata, path) is null ? 0 : prompts.Count(p => !task.IsHeldOut(p));
                return (new ModelInfo(contract, training), prompts, invalid, $"CSV {Path.GetFullPath(file.Path)}");
            }
            default:
                throw new ArgumentException($"unknown held-out source {heldOut.GetType().Name}", nameof(heldOut));
        }
    }

    /// <summary>The model's task, which the evaluation needs for its rewards and held-out split.</summary>
    static VerifiableTask TaskOf(PolicyContract contract) => contract.Task
        ?? throw new EvaluationException($"'{contract.Path}' cannot be evaluated: {contract.RewardsUnavailable}");

    /// <summary>A model's prompts in a message: <c>L=4, V=6</c>, or <c>lengths 1..6, V=8</c>.</summary>
    internal static string Describe(PromptRules rules) =>
        rules.MinLength == rules.MaxLength ? $"L={rules.MaxLength}, V={rules.VocabSize}" : $"lengths {rules.LengthRange}, V={rules.VocabSize}";
}
