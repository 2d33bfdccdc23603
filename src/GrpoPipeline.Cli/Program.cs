using System.CommandLine;
using GrpoPipeline.Cli;

var root = new RootCommand("grpo: train a sorting policy with GRPO (TorchSharp), and benchmark the trainer.")
{
    TrainCommand.Create(),
    BenchCommand.Create(),
};
return await Cli.RunAsync(root, args);
