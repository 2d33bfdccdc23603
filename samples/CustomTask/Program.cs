// An app's own GRPO task, end to end with the packages: train DistinctTask (DistinctTask.cs, the only task code) with
// GrpoPipeline.Training, export it to ONNX, and answer prompts with it through GrpoPipeline.Inference.
//   dotnet run --project samples/CustomTask -c Release -- [output folder] [token ...]
// Run it again on the same folder and training resumes from its last checkpoint (here: already done).
using System.Diagnostics;
using GrpoPipeline.Core;
using GrpoPipeline.Inference;
using GrpoPipeline.Training;
using Microsoft.Extensions.Logging;

var output = Path.GetFullPath(args.Length > 0 ? args[0] : "custom-task");
long[]? asked = args.Length > 1 ? args[1..].Select(long.Parse).ToArray() : null;

// Register the task before anything names it: the trainer builds it from the config, Inference from the model.
TaskRegistry.Register(DistinctTask.TaskName, options => new DistinctTask(options));

var config = new TrainConfig
{
    RunName = "distinct", Seed = 0, Epochs = 600,
    Task = new TaskOptions { Name = DistinctTask.TaskName, Kind = TaskKind.Variable, MinLength = 1, MaxLength = 5, VocabSize = 8, BatchSize = 32, HeldOutSize = 512 },
    Rewards = new RewardWeights { { "tokenShare", 1 }, { "exact", 0 } },
    Policy = new PolicyOptions { Kind = PolicyKind.Decoder, DModel = 32, Heads = 4, Layers = 2, MlpDim = 64 },
    Grpo = new GrpoOptions { GroupSize = 8, InnerSteps = 2, Deltas = DeltasMode.Normalized, KlCoef = 0, ClipLow = 0.2, ClipHigh = 0.2,
        LearningRate = 3e-3, LearningRateFinal = 3e-4, MaxGradNorm = 1, LossAggregation = LossAggregation.TokenMean,
        Entropy = new EntropyOptions { Coef = 0.001, Controller = new EntropyControllerOptions { Target = 0.15 } } },
    Run = new RunOptions { LogEvery = 100, HeldOutEvery = 100, CheckpointEvery = 100, Threads = 1, Tensorboard = false },
};

using var logs = LoggerFactory.Create(builder => builder.AddSimpleConsole(o => o.SingleLine = true));
var log = logs.CreateLogger("CustomTask");
var runDir = new RunDirectory(Path.Combine(output, "run"));
var clock = Stopwatch.StartNew();
using (var run = runDir.HasRun ? TrainingRun.Resume(runDir, epochs: null, log) : TrainingRun.StartNew(config, runDir, log))
{
    run.Train();
    var heldOut = run.Trainer.EvaluateHeldOut();
    Console.WriteLine($"trained {run.State.Epoch} epochs in {clock.Elapsed.TotalSeconds:F1} s; held-out exact {heldOut.Exact:P1}");
}
var model = Path.Combine(output, "distinct.onnx");
OnnxExporter.Export(runDir.Root, model);
Console.WriteLine($"exported {model}");

// Inference knows the task because this app registered it; another app that has not would answer without rewards.
using var policy = OnnxPolicy.Load(model);
long[][] prompts = asked is null ? [[3, 1, 3, 2, 1], [5, 5, 5], [4, 0, 7, 2, 0], [6], [2, 0, 2, 0]] : [asked];
foreach (var prompt in prompts)
{
    if (policy.Contract.Problem(prompt) is { } problem)
    {
        Console.Error.WriteLine($"error: [{string.Join(", ", prompt)}]: {problem}");
        return 2;
    }
    var answer = policy.Respond(prompt);
    Console.WriteLine($"[{string.Join(", ", prompt)}] -> [{string.Join(", ", answer)}]  {policy.Score(prompt, answer)}");
}
return 0;
