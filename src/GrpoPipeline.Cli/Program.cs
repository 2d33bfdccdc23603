using System.CommandLine;
using GrpoPipeline.Cli;

var root = new RootCommand("grpo: train a sorting policy with GRPO (TorchSharp), export it to ONNX, and benchmark.")
{
    TrainCommand.Create(),
    ExportCommand.Create(),
    ServeCommand.Create(),
    ExperimentCommand.Create(),
    BenchCommand.Create(),
    EvaluateCommand.Create(), EvaluateCommand.CreateBenchmark(), PlotCommand.Create(),
    FixturesCommand.Create(),
};
return await Cli.RunAsync(root, args);
