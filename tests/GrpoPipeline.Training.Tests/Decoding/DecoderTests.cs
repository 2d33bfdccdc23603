using GrpoPipeline.Core;
using GrpoPipeline.Training.Policies;
using NUnit.Framework;
using static GrpoPipeline.Training.Tests.TestScalars;
using static TorchSharp.torch;
using static TorchSharp.torch.nn.functional;

namespace GrpoPipeline.Training.Tests.Decoding;

/// <summary>
/// The decoder policy: cached decoding computes what full recomputation computes, padding changes no log-prob, and a
/// decode ends each response at EOS (or truncates it at the cap) with its mask, log-probs and managed copy.
/// </summary>
[TestFixture, NonParallelizable]   // torch's global generator seeds the weights
public sealed class DecoderTests
{
    const int V = 10, MaxLength = 6;
    DecoderPolicy _policy = null!;
    SpecialTokens Special => _policy.Special;

    [OneTimeSetUp]
    public void Build()
    {
        manual_seed(11);
        _policy = new DecoderPolicy(V, MaxLength, dModel: 32, heads: 4, layers: 2, mlpDim: 64, dropout: 0);
        // Larger weights than the small init, so the logits differ by position and token and the checks have teeth.
        using (no_grad())
            foreach (var p in _policy.parameters()) p.add_(randn_like(p) * K[0.3], Scalars.One);
        _policy.eval();
    }

    [OneTimeTearDown]
    public void Dispose() => _policy.Dispose();

    static TokenRows Prompts(params long[][] prompts) => TokenRows.From(prompts, padding: V + 2);

    [Test]
    public void Cached_Steps_Give_The_Logits_Of_A_Full_Recomputation_Within_1e5()
    {
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        var prompts = Prompts([3, 1, 4, 1, 5], [9, 2], [6]);
        var block = ResponseDecoder.PromptBlock(prompts, Special);          // [3, 6]
        var continuation = tensor(new long[] { 2, 7, V + 1, 0, 0, 5, 8, 1, V + 1 }, [3, 3]);   // fed token by token
        using var cache = new KvCache(2, 3, 4, block.shape[1] + 3, 8);

        var stepLogits = new List<Tensor> { _policy.Prefill(block, cache) };
        var positions = block.ne(K[Special.Pad]).sum(1);
        for (int t = 0; t < 3; t++)
        {
            var token = continuation.select(1, t);
            stepLogits.Add(_policy.Step(token, positions, cache));
            positions = positions.add(Scalars.One, Scalars.One);
        }

        var full = _policy.forward(cat([block, continuation], 1));           // [3, 9, V+1]
        double worst = 0;
        for (int t = 0; t < stepLogits.Count; t++)
            worst = Math.Max(worst, (stepLogits[t] - full.select(1, block.shape[1] - 1 + t)).abs().max().item<float>());
        TestContext.Out.WriteLine($"max |cached − recomputed| = {worst:E2}");
        Assert.That(worst, Is.LessThanOrEqualTo(1e-5));
        Assert.That(cache.Length, Is.EqualTo(block.shape[1] + 3));
    }

    [Test]
    public void Greedy_Decoding_With_And_Without_The_Cache_Agrees()
    {
        using var scope = NewDisposeScope();
        var prompts = Prompts([3, 1, 4, 1, 5, 9], [2, 6], [5], [8, 8, 0]);
        var cached = ResponseDecoder.Decode(_policy, prompts, 1, MaxLength + 1, 1.0, null, useCache: true);
        var recomputed = ResponseDecoder.Decode(_policy, prompts, 1, MaxLength + 1, 1.0, null, useCache: false);

        Assert.That(cached.Tokens.data<long>().ToArray(), Is.EqualTo(recomputed.Tokens.data<long>().ToArray()));
        Assert.That((cached.LogProbs - recomputed.LogProbs).abs().max().item<float>(), Is.LessThanOrEqualTo(1e-5));
    }

    [Test]
    public void Left_Padding_Changes_No_Log_Prob()
    {
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        // The same prompt and response, alone (no padding) and next to a longer prompt (three PADs in front).
        long[] prompt = [4, 2, 7], response = [2, 4, 7, V + 1];
        var alone = SequenceLogProbs(Prompts(prompt), response);
        var padded = SequenceLogProbs(Prompts(prompt, [1, 1, 1, 1, 1, 1]), response);
        Assert.That((alone - padded).abs().max().item<float>(), Is.LessThanOrEqualTo(1e-5));
    }

    [Test]
    public void Right_Padding_After_A_Response_Changes_No_Earlier_Log_Prob()
    {
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        var block = ResponseDecoder.PromptBlock(Prompts([5, 3]), Special);
        var ended = cat([block, tensor(new long[] { 3, 5, V + 1 }, [1, 3])], 1);
        var longer = cat([ended, full(1, 4, K[V + 2])], 1);                      // PADs after the EOS
        var a = _policy.forward(ended);
        var b = _policy.forward(longer).narrow(1, 0, ended.shape[1]);
        Assert.That((a - b).abs().max().item<float>(), Is.LessThanOrEqualTo(1e-5), "float noise only: another width changes the GEMM blocking");
    }

    [Test]
    public void A_Decode_Ends_Each_Response_At_EOS_Or_Truncates_It_At_The_Cap()
    {
        using var scope = NewDisposeScope();
        var prompts = Prompts([3, 1, 4], [9], [2, 6, 5, 3, 5]);
        var responses = new TokenRows(6, MaxLength + 1, V + 2);
        using var generator = new Generator(5);
        var decoded = ResponseDecoder.Decode(_policy, prompts, 2, MaxLength + 1, 1.0, generator, responses);

        var tokens = decoded.Tokens.data<long>().ToArray();
        var mask = decoded.Mask.data<float>().ToArray();
        var logProbs = decoded.LogProbs.data<float>().ToArray();
        var truncated = decoded.Truncated.data<bool>().ToArray();
        int steps = (int)decoded.Steps;
        Assert.That(steps, Is.InRange(1, MaxLength + 1));
        for (int r = 0; r < 6; r++)
        {
            var row = tokens.AsSpan(r * steps, steps);
            int eos = row.IndexOf((long)(V + 1));
            int length = eos < 0 ? steps : eos + 1;
            Assert.That(truncated[r], Is.EqualTo(eos < 0), $"row {r}");
            if (eos < 0) Assert.That(steps, Is.EqualTo(MaxLength + 1), "only a full-length response can be truncated");
            Assert.That(row[..length].ToArray(), Has.All.InRange(0L, V + 1L).And.None.EqualTo((long)V), "values and EOS, never SEP");
            Assert.That(row[length..].ToArray(), Has.All.EqualTo((long)(V + 2)), "PAD after the end");
            Assert.That(mask.AsSpan(r * steps, steps).ToArray(), Is.EqualTo(Enumerable.Range(0, steps).Select(i => i < length ? 1f : 0f)));
            Assert.That(logProbs.AsSpan(r * steps, length).ToArray(), Has.All.LessThan(0f));
            Assert.That(responses[r].ToArray(), Is.EqualTo(row[..(eos < 0 ? steps : eos)].ToArray()), "the managed copy drops the EOS");
        }
        Assert.That(decoded.Entropy, Is.GreaterThan(0));
        Assert.That(decoded.Inputs().shape, Is.EqualTo(new long[] { 6, 6 + steps - 1 }));
    }

    [Test]
    public void The_Same_Generator_Seed_Draws_The_Same_Responses()
    {
        using var scope = NewDisposeScope();
        var prompts = Prompts([3, 1, 4], [9, 0]);
        using var g1 = new Generator(21);
        using var g2 = new Generator(21);
        var a = ResponseDecoder.Decode(_policy, prompts, 4, MaxLength + 1, 1.0, g1);
        var b = ResponseDecoder.Decode(_policy, prompts, 4, MaxLength + 1, 1.0, g2);
        Assert.That(a.Tokens.data<long>().ToArray(), Is.EqualTo(b.Tokens.data<long>().ToArray()));
    }

    [Test]
    public void The_Decodes_Log_Probs_Are_The_Teacher_Forced_Ones()
    {
        using var scope = NewDisposeScope();
        var prompts = Prompts([3, 1, 4, 1], [9, 2, 6], [5]);
        using var generator = new Generator(3);
        var decoded = ResponseDecoder.Decode(_policy, prompts, 3, MaxLength + 1, 0.7, generator);
        using var _ = no_grad();
        var logits = _policy.forward(decoded.Inputs()).narrow(1, decoded.PromptBlock.shape[1] - 1, decoded.Steps);
        var teacherForced = log_softmax(logits / K[0.7], -1).gather(2, decoded.Targets.unsqueeze(2)).squeeze(2) * decoded.Mask;
        Assert.That((teacherForced - decoded.LogProbs).abs().max().item<float>(), Is.LessThanOrEqualTo(1e-5));
    }

    [Test]
    public void The_Shared_Prompt_Forward_Equals_The_Forward_Of_Whole_Sequences_With_Its_Gradient()
    {
        using var scope = NewDisposeScope();
        var prompts = Prompts([3, 1, 4, 1], [9, 2, 6], [5]);
        using var generator = new Generator(8);
        var decoded = ResponseDecoder.Decode(_policy, prompts, 4, MaxLength + 1, 1.0, generator);
        var block = ResponseDecoder.PromptBlock(prompts, Special);

        var shared = _policy.ForwardResponses(block, 4, decoded.Tokens.narrow(1, 0, decoded.Steps - 1));
        var whole = _policy.forward(decoded.Inputs()).narrow(1, block.shape[1] - 1, decoded.Steps);
        Assert.That((shared - whole).abs().max().item<float>(), Is.LessThanOrEqualTo(1e-5));

        // The same gradients: the prompt's share flows back through its one copy.
        var weights = randn_like(whole);
        var grads = new List<float[]>();
        foreach (var logits in new Func<Tensor>[] { () => _policy.ForwardResponses(block, 4, decoded.Tokens.narrow(1, 0, decoded.Steps - 1)),
                                                    () => _policy.forward(decoded.Inputs()).narrow(1, block.shape[1] - 1, decoded.Steps) })
        {
            _policy.zero_grad();
            (logits() * weights * decoded.Mask.unsqueeze(2)).sum().backward();
            grads.Add(_policy.parameters().SelectMany(p => p.grad!.data<float>().ToArray()).ToArray());
        }
        Assert.That(grads[0], Is.EqualTo(grads[1]).Within(1e-4));
    }

    /// <summary>Teacher-forced log-probs of <paramref name="response"/> for the first prompt of <paramref name="prompts"/>.</summary>
    Tensor SequenceLogProbs(TokenRows prompts, long[] response)
    {
        var block = ResponseDecoder.PromptBlock(prompts, Special).narrow(0, 0, 1);
        var inputs = cat([block, tensor(response[..^1], [1, response.Length - 1])], 1);
        var logits = _policy.forward(inputs).narrow(1, block.shape[1] - 1, response.Length);
        var targets = tensor(response, [1, response.Length]);   // logits are indexed by token id
        return log_softmax(logits, -1).gather(2, targets.unsqueeze(2)).squeeze(2);
    }
}
