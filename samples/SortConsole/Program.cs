// Sort a prompt with an exported GRPO policy, using only the GrpoPipeline.Inference package (ONNX Runtime).
//   dotnet run --project samples/SortConsole -- models/transformer-l5v10.onnx 3 1 4 1 5
using GrpoPipeline.Inference;

if (args.Length < 2)
{
    Console.Error.WriteLine("usage: SortConsole <model.onnx> <token> [<token> ...]");
    return 2;
}
try
{
    long[] prompt = args[1..].Select(long.Parse).ToArray();
    using var policy = SorterPolicy.Load(args[0]);
    var contract = policy.Contract;
    long[] response = policy.Sort(prompt);
    var score = policy.Score(prompt, response);
    Console.WriteLine($"model   {contract.RunName} ({contract.PolicyKind}, {contract.Version}, epoch {contract.Epoch}), prompt length {contract.Prompts.LengthRange}, V={contract.VocabSize}");
    Console.WriteLine($"prompt  [{string.Join(", ", prompt)}]");
    Console.WriteLine($"sorted  [{string.Join(", ", response)}]");
    Console.WriteLine($"rewards inclusionOrdering={score.InclusionOrdering} sortDistance={score.SortDistance} exact={score.Exact}");
    return 0;
}
catch (Exception e) when (e is ArgumentException or OnnxContractException or FileNotFoundException or FormatException or OverflowException)
{
    Console.Error.WriteLine($"error: {e.Message}");
    return 2;
}
