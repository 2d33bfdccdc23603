// Answer a prompt with an exported GRPO policy (a sorting model here, any task's alike), using only the
// GrpoPipeline.Inference package (ONNX Runtime).
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
    using var policy = OnnxPolicy.Load(args[0]);
    var contract = policy.Contract;
    long[] response = policy.Respond(prompt);
    var score = policy.Score(prompt, response);
    Console.WriteLine($"model   {contract.RunName} ({contract.PolicyKind}, {contract.Version}, epoch {contract.Epoch}), task {contract.TaskName}, prompt length {contract.Prompts.LengthRange}, V={contract.VocabSize}");
    Console.WriteLine($"prompt  [{string.Join(", ", prompt)}]");
    Console.WriteLine($"answer  [{string.Join(", ", response)}]");
    Console.WriteLine(score is null ? $"rewards unavailable: {contract.RewardsUnavailable}" : $"rewards {score}");
    return 0;
}
catch (Exception e) when (e is ArgumentException or OnnxContractException or FileNotFoundException or FormatException or OverflowException)
{
    Console.Error.WriteLine($"error: {e.Message}");
    return 2;
}
