// Answer prompts with a decoder exported by `grpo export --format genai`, using only ONNX Runtime GenAI: no
// GrpoPipeline package, no TorchSharp. Tokens are ids: the input is the prompt's tokens then SEP, and the response is
// what the model generates after SEP, up to EOS. grpo.json in the folder holds SEP, EOS and the response cap.
//   dotnet run --project samples/GenAiConsole -- models/sort-variable-genai 3 1 2
//   echo "3 1 2" | dotnet run --project samples/GenAiConsole -- models/sort-variable-genai      (one prompt a line)
using System.Text.Json;
using Microsoft.ML.OnnxRuntimeGenAI;

if (args.Length < 1)
{
    Console.Error.WriteLine("usage: GenAiConsole <genai-folder> [<token> ...]   (without tokens: one prompt a line on stdin)");
    return 2;
}
using var genAi = new OgaHandle();                 // shuts ONNX Runtime GenAI down when the app ends
using var info = JsonDocument.Parse(File.ReadAllText(Path.Combine(args[0], "grpo.json")));
int sep = info.RootElement.GetProperty("sep_token").GetInt32();
int eos = info.RootElement.GetProperty("eos_token").GetInt32();
int responseLength = info.RootElement.GetProperty("response_length").GetInt32();
using var model = new Model(args[0]);

IEnumerable<string> prompts = args.Length > 1 ? [string.Join(' ', args[1..])] : ReadLines();
foreach (var line in prompts)
{
    int[] prompt = line.Split(' ', StringSplitOptions.RemoveEmptyEntries).Select(int.Parse).ToArray();
    Console.WriteLine($"{string.Join(' ', prompt)} -> {string.Join(' ', Respond(prompt))}");
}
return 0;

int[] Respond(int[] prompt)
{
    using var parameters = new GeneratorParams(model);
    // Room for the prompt, SEP and the longest response (EOS included): the cap the GrpoPipeline Inference loop uses.
    parameters.SetSearchOption("max_length", prompt.Length + 1 + responseLength);
    using var generator = new Generator(model, parameters);
    generator.AppendTokens([.. prompt, sep]);
    while (!generator.IsDone()) generator.GenerateNextToken();
    var generated = generator.GetSequence(0)[(prompt.Length + 1)..];
    int end = generated.IndexOf(eos);
    return (end < 0 ? generated : generated[..end]).ToArray();
}

static IEnumerable<string> ReadLines()
{
    while (Console.ReadLine() is { } line)
        if (line.Trim().Length > 0) yield return line;
}
