using System.Text.Json.Nodes;
using GrpoPipeline.Core;
using GrpoPipeline.Training;
using Microsoft.ML.OnnxRuntimeGenAI;

namespace GrpoPipeline.Cli;

/// <summary>
/// Greedy decoding of a <see cref="GenAiExporter"/> folder with ONNX Runtime GenAI's <c>Generator</c>, as a user's app
/// would: one generator per call, the prompts as <c>prompt SEP</c> rows right-padded with PAD to one width (GenAI masks
/// trailing PAD, reads each row's logits at its last real token and numbers positions from column 0, so a row decodes
/// as it would alone). <c>max_length</c> = width + the longest response gives every row the Inference loop's cap.
/// GenAI takes at most <see cref="MaxRowsPerGenerator"/> rows per generator, so a larger batch runs as chunks in turn.
/// </summary>
sealed class GenAiDecoder : IDisposable
{
    /// <summary>GenAI 0.20's limit on a generator's batch_size (it refuses more: "batch_size (…) must be in [1, 32]").</summary>
    public const int MaxRowsPerGenerator = 32;

    readonly Config _config;
    readonly Model _model;
    readonly SpecialTokens _special;
    readonly int _responseLength;

    /// <summary>Loads <paramref name="folder"/> with ORT sessions of <paramref name="threads"/> intra-op threads.</summary>
    public GenAiDecoder(string folder, SpecialTokens special, int responseLength, int threads)
    {
        _config = new Config(folder);
        var threading = new JsonObject { ["intra_op_num_threads"] = threads, ["inter_op_num_threads"] = 1 };
        _config.Overlay(new JsonObject { ["model"] = new JsonObject { ["decoder"] = new JsonObject { ["session_options"] = threading } } }.ToJsonString());
        _model = new Model(_config);
        _special = special;
        _responseLength = responseLength;
    }

    /// <summary>Responses (without EOS) to <paramref name="prompts"/>, in generators of up to <see cref="MaxRowsPerGenerator"/> rows.</summary>
    public long[][] Respond(IReadOnlyList<long[]> prompts)
    {
        var responses = new long[prompts.Count][];
        for (int start = 0; start < prompts.Count; start += MaxRowsPerGenerator)
        {
            int rows = Math.Min(MaxRowsPerGenerator, prompts.Count - start);
            var chunk = RespondChunk(prompts.Skip(start).Take(rows).ToList());
            chunk.CopyTo(responses, start);
        }
        return responses;
    }

    long[][] RespondChunk(IReadOnlyList<long[]> prompts)
    {
        int width = prompts.Max(p => p.Length) + 1;
        var ids = new int[prompts.Count * width];
        for (int b = 0; b < prompts.Count; b++)
        {
            var row = ids.AsSpan(b * width, width);
            row.Fill((int)_special.Pad);
            for (int c = 0; c < prompts[b].Length; c++) row[c] = (int)prompts[b][c];
            row[prompts[b].Length] = (int)_special.Sep;
        }
        using var parameters = new GeneratorParams(_model);
        parameters.SetSearchOption("batch_size", prompts.Count);
        parameters.SetSearchOption("max_length", width + _responseLength);
        using var generator = new Generator(_model, parameters);
        generator.AppendTokens(ids);
        while (!generator.IsDone()) generator.GenerateNextToken();
        var responses = new long[prompts.Count][];
        for (int b = 0; b < prompts.Count; b++)
        {
            // The sequence is the padded row, then the generated tokens: EOS (or PAD, after a row is done) ends it.
            var generated = generator.GetSequence((ulong)b)[width..];
            int end = 0;
            while (end < generated.Length && generated[end] != _special.Eos && generated[end] != _special.Pad) end++;
            responses[b] = new long[end];
            for (int i = 0; i < end; i++) responses[b][i] = generated[i];
        }
        return responses;
    }

    public void Dispose()
    {
        _model.Dispose();
        _config.Dispose();
    }
}
