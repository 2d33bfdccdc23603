// Sample: sort a prompt with an exported GRPO policy, using only GrpoPipeline.Inference (ONNX Runtime).
//   dotnet run --project tools/SortWithOnnx -- models/seed.onnx 3 1 2
using GrpoPipeline.Inference;

if (args.Length < 2)
{
    Console.Error.WriteLine("usage: SortWithOnnx <model.onnx> <token> [<token> ...]");
    return 2;
}
try
{
    using var policy = SorterPolicy.Load(args[0]);
    long[] prompt = args[1..].Select(long.Parse).ToArray();
    long[] response = policy.Sort(prompt);
    var score = policy.Score(prompt, response);
    Console.WriteLine($"model   {policy.RunName} ({policy.PolicyKind}, epoch {policy.Epoch}), L={policy.PromptLength}, V={policy.VocabSize}");
    Console.WriteLine($"prompt  [{string.Join(", ", prompt)}]");
    Console.WriteLine($"sorted  [{string.Join(", ", response)}]  reward {score.InclusionOrdering}, exact {score.Exact}");
    return 0;
}
catch (Exception e) when (e is ArgumentException or OnnxContractException or FileNotFoundException or FormatException)
{
    Console.Error.WriteLine($"error: {e.Message}");
    return 2;
}
