using TorchSharp;
using GrpoPipeline.Core;
using static TorchSharp.torch;
using static TorchSharp.torch.nn.functional;

namespace GrpoPipeline.Training.Policies;

/// <summary>
/// What one decode of B prompts × G responses produced: tensors for the loss (N = B·G rows, R = decode steps taken)
/// and, written into the caller's <see cref="TokenRows"/>, each response's tokens without EOS for the rewards.
/// </summary>
/// <param name="PromptBlock">[N, P]: each row's prompt, left-padded, then SEP.</param>
/// <param name="Tokens">[N, R]: the response token ids (EOS included), PAD after a row's end.</param>
/// <param name="Targets">[N, R]: each token's id, 0 where masked (an index into the logits).</param>
/// <param name="Mask">[N, R] float: 1 on a response's tokens, EOS included.</param>
/// <param name="LogProbs">[N, R]: log π of each chosen token under softmax(logits / T), 0 where masked.</param>
/// <param name="Truncated">[N] bool: the response reached the cap without EOS.</param>
/// <param name="Entropy">Mean entropy of the next-token distribution over the response tokens.</param>
public sealed record DecodedResponses(Tensor PromptBlock, Tensor Tokens, Tensor Targets, Tensor Mask, Tensor LogProbs, Tensor Truncated, double Entropy)
{
    /// <summary>Decode steps taken, R.</summary>
    public long Steps => Tokens.shape[1];

    /// <summary>The teacher-forcing input [N, P + R − 1]: the prompt block, then every response token but the last.</summary>
    public Tensor Inputs() => cat([PromptBlock, Tokens.narrow(1, 0, Steps - 1)], 1);
}

/// <summary>
/// Token-by-token decoding with a <see cref="DecoderPolicy"/>: every row of a batch in one lockstep loop, under no-grad
/// and in eval mode, stopping as soon as every row has emitted EOS or the cap is reached. With the KV cache each step
/// costs one new column; the G responses of a prompt share its prefill. Without the cache each step runs the whole
/// prefix again (what nanoGPT's <c>generate</c> does), kept for the benchmark.
/// </summary>
public static class ResponseDecoder
{
    /// <summary>
    /// Decodes <paramref name="group"/> responses to each prompt of <paramref name="prompts"/> (response b·G + g answers
    /// prompt b), at most <paramref name="maxResponseLength"/> tokens each: sampled from softmax(logits / T) with
    /// <paramref name="generator"/>, or greedy (argmax) when it is null. Writes the responses without EOS into
    /// <paramref name="responses"/> ([B·G] rows of room ≥ maxResponseLength) when given.
    /// </summary>
    public static DecodedResponses Decode(DecoderPolicy policy, TokenRows prompts, int group, int maxResponseLength, double temperature,
        Generator? generator, TokenRows? responses = null, bool useCache = true)
    {
        bool wasTraining = policy.training;
        policy.eval();
        try
        {
            using var _ = no_grad();
            using var scope = NewDisposeScope();
            var result = Run(policy, prompts, group, maxResponseLength, temperature, generator, useCache);
            if (responses is not null) CopyResponses(result, policy.Special.Eos, responses);
            foreach (var t in new[] { result.PromptBlock, result.Tokens, result.Targets, result.Mask, result.LogProbs, result.Truncated }) t.MoveToOuterDisposeScope();
            return result;
        }
        finally
        {
            if (wasTraining) policy.train();
        }
    }

    /// <summary>
    /// The <see cref="DecodedResponses"/> of responses decoded elsewhere (<paramref name="responses"/>: [B·G] rows
    /// without EOS, as <see cref="Decode"/> writes them; a row of <paramref name="maxResponseLength"/> tokens was
    /// truncated, any shorter one ended with EOS), with their log-probs under <paramref name="policy"/> from one
    /// teacher-forced pass under no-grad. The same tensors <see cref="Decode"/> would return had it drawn these tokens.
    /// </summary>
    public static DecodedResponses TeacherForce(DecoderPolicy policy, TokenRows prompts, int group, TokenRows responses, int maxResponseLength, double temperature)
    {
        var special = policy.Special;
        int rows = prompts.Count * group;
        if (responses.Count != rows)
            throw new ArgumentException($"expected {rows} responses ({prompts.Count} prompts × {group}), got {responses.Count}", nameof(responses));
        int steps = 1;
        for (int r = 0; r < rows; r++) steps = Math.Max(steps, Math.Min(maxResponseLength, responses.Lengths[r] + 1));
        var tokens = new long[rows * steps];
        var targets = new long[rows * steps];
        var mask = new float[rows * steps];
        var truncated = new bool[rows];
        for (int r = 0; r < rows; r++)
        {
            var row = responses[r];
            truncated[r] = row.Length >= maxResponseLength;
            int length = truncated[r] ? maxResponseLength : row.Length + 1;
            for (int t = 0; t < steps; t++)
            {
                int i = r * steps + t;
                bool eos = !truncated[r] && t == row.Length;
                tokens[i] = t < row.Length ? row[t] : eos ? special.Eos : special.Pad;
                targets[i] = t < row.Length ? row[t] : eos ? special.Eos : 0;
                mask[i] = t < length ? 1 : 0;
            }
        }
        bool wasTraining = policy.training;
        policy.eval();
        try
        {
            using var _ = no_grad();
            using var scope = NewDisposeScope();
            var block = PromptBlock(prompts, special);
            var tokenTensor = tensor(tokens, [rows, steps]);
            var targetTensor = tensor(targets, [rows, steps]);
            var maskTensor = tensor(mask, [rows, steps]);
            var logits = policy.ForwardResponses(block, group, tokenTensor.narrow(1, 0, steps - 1));
            var logProbs = GrpoMath.LogProbs(logits, temperature);
            var chosen = logProbs.gather(2, targetTensor.unsqueeze(2)).squeeze(2) * maskTensor;
            double entropy = (GrpoMath.TokenEntropy(logProbs) * maskTensor).sum().item<float>() / Math.Max(1, mask.Sum());
            var result = new DecodedResponses(block.repeat_interleave(group, 0), tokenTensor, targetTensor, maskTensor, chosen, tensor(truncated), entropy);
            foreach (var t in new[] { result.PromptBlock, result.Tokens, result.Targets, result.Mask, result.LogProbs, result.Truncated }) t.MoveToOuterDisposeScope();
            return result;
        }
        finally
        {
            if (wasTraining) policy.train();
        }
    }

    /// <summary>[B, P] prompts left-padded to the longest, then SEP, as token ids.</summary>
    public static Tensor PromptBlock(TokenRows prompts, SpecialTokens special)
    {
        int width = prompts.Lengths.Max() + 1;
        var block = new long[prompts.Count * width];
        for (int b = 0; b < prompts.Count; b++)
        {
            var row = block.AsSpan(b * width, width);
            int pad = width - 1 - prompts.Lengths[b];
            row[..pad].Fill(special.Pad);
            prompts[b].CopyTo(row[pad..]);
            row[^1] = special.Sep;
        }
        return tensor(block, [prompts.Count, width]);
    }

    static DecodedResponses Run(DecoderPolicy policy, TokenRows prompts, int group, int maxSteps, double temperature, Generator? generator, bool useCache)
    {
        var special = policy.Special;
        // The decode loop's Scalars, made once per call: none is allocated per token.
        using var s = new ScalarScope();
        Scalar pad = s[special.Pad], eos = s[special.Eos], temperatureScalar = s[temperature];
        using Tensor padToken = special.Pad;   // where() takes tensors
        using var generable = tensor(policy.Generable);
        long rows = (long)prompts.Count * group;
        var block = PromptBlock(prompts, special);
        long width = block.shape[1];
        var promptBlock = block.repeat_interleave(group, 0);                                 // [N, P]
        var positions = policy.FirstResponsePositions(block).repeat_interleave(group, 0);   // the first response token's position
        KvCache? cache = null;
        Tensor logits, prefix = promptBlock;
        if (useCache)
        {
            var blocks = policy.Blocks.ToList();
            using var prefill = new KvCache(blocks.Count, prompts.Count, policy.Heads, width + maxSteps - 1, policy.DModel / policy.Heads);
            logits = policy.Prefill(block, prefill).repeat_interleave(group, 0);
            cache = prefill.Repeat(group);
        }
        else logits = policy.forward(promptBlock).select(1, -1);

        var tokens = full(rows, maxSteps, pad);
        var targets = zeros(rows, maxSteps, ScalarType.Int64);
        var mask = zeros(rows, maxSteps);
        var logProbs = zeros(rows, maxSteps);
        var active = ones(rows, dtype: ScalarType.Bool);
        var entropy = zeros(1).squeeze();
        int steps = 0;
        try
        {
            for (int step = 0; step < maxSteps; step++)
            {
                using var stepScope = NewDisposeScope();
                var logp = log_softmax(temperature == 1 ? logits : logits.div(temperatureScalar), -1);   // [N, V+2] by token id
                // Drawn among the tokens a response may hold (SEP's probability is 0 anyway): one random number per row and token.
                var choice = generator is null
                    ? logp.argmax(-1)
                    : generable.index_select(0, multinomial(logp.exp().index_select(1, generable), 1, replacement: false, generator: generator).squeeze(1));
                var live = active.to(ScalarType.Float32);
                var token = where(active, choice, padToken);
                tokens.select(1, step).copy_(token);
                targets.select(1, step).copy_(choice * active);
                mask.select(1, step).copy_(live);
                logProbs.select(1, step).copy_(logp.gather(1, choice.unsqueeze(1)).squeeze(1) * live);
                entropy.add_((-(logp.exp() * logp).sum(-1) * live).sum(), Scalars.One);
                active.logical_and_(token.ne(eos));
                steps = step + 1;
                if (steps == maxSteps || !active.any().item<bool>()) break;

                Tensor next;
                if (cache is not null) next = policy.Step(token, positions, cache);
                else
                {
                    var longer = cat([prefix, token.unsqueeze(1)], 1).MoveToOuterDisposeScope();
                    if (!ReferenceEquals(prefix, promptBlock)) prefix.Dispose();
                    prefix = longer;
                    next = policy.forward(prefix).select(1, -1);
                }
                positions.add_(token.ne(pad), Scalars.One);
                logits.Dispose();
                logits = next.MoveToOuterDisposeScope();
            }
        }
        finally
        {
            cache?.Dispose();
        }
        double entropyMean = entropy.item<float>() / Math.Max(1, mask.sum().item<float>());
        return new DecodedResponses(promptBlock, tokens.narrow(1, 0, steps), targets.narrow(1, 0, steps), mask.narrow(1, 0, steps),
            logProbs.narrow(1, 0, steps), active.clone(), entropyMean);
    }

    /// <summary>Each response's tokens before its EOS (all of them when it was truncated) into <paramref name="responses"/>.</summary>
    static void CopyResponses(DecodedResponses decoded, long eos, TokenRows responses)
    {
        long rows = decoded.Tokens.shape[0], steps = decoded.Steps;
        if (responses.Count != rows || responses.Stride < steps)
            throw new ArgumentException($"responses hold {responses.Count} rows of room {responses.Stride}; the decode has {rows} rows of up to {steps} tokens", nameof(responses));
        var all = decoded.Tokens.contiguous().data<long>().ToArray();
        for (int r = 0; r < rows; r++)
        {
            var row = all.AsSpan((int)(r * steps), (int)steps);
            int end = row.IndexOf(eos);
            // A row that ended early has PAD after its EOS; a truncated row has no EOS and fills all the steps.
            responses.Set(r, end < 0 ? row : row[..end]);
        }
    }
}
