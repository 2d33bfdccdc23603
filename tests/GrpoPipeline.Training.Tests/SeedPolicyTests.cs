using GrpoPipeline.Training.Policies;
using NUnit.Framework;
using static TorchSharp.torch;

namespace GrpoPipeline.Training.Tests;

/// <summary>The lecture's §4.4 non-autoregressive sorter: shapes, the tied embedding, the einsum definition, init scale.</summary>
[TestFixture, NonParallelizable]   // torch's global generator seeds the initial weights
public sealed class SeedPolicyTests
{
    [Test]
    public void Forward_Maps_Prompts_B_By_L_To_Logits_B_By_R_By_V()
    {
        manual_seed(1);
        using var policy = new SeedPolicy(vocab: 7, dim: 5, promptLength: 3, responseLength: 4);   // outside the scope
        using var scope = NewDisposeScope();
        var prompts = randint(0, 7, new long[] { 2, 3 }, dtype: ScalarType.Int64);

        var logits = policy.forward(prompts);

        Assert.That(logits.shape, Is.EqualTo(new long[] { 2, 4, 7 }));
    }

    [Test]
    public void Logits_Are_Tied_To_The_Embedding()
    {
        manual_seed(2);
        using var policy = new SeedPolicy(vocab: 6, dim: 4, promptLength: 3, responseLength: 3);
        using var scope = NewDisposeScope();
        var prompts = tensor(new long[] { 0, 1, 2, 5, 4, 3 }, new long[] { 2, 3 });
        Assert.That(policy.forward(prompts).abs().max().item<float>(), Is.GreaterThan(0f), "premise: the logits are not all zero");

        using (no_grad()) policy.EmbeddingWeight.zero_();

        Assert.That(policy.forward(prompts).data<float>().ToArray(), Is.All.EqualTo(0f));
    }

    [Test]
    public void Forward_Matches_The_Lecture_Einsum_Definition()
    {
        const int V = 4, D = 3, L = 2, R = 3, B = 2;
        manual_seed(3);
        using var policy = new SeedPolicy(V, D, L, R);
        using var scope = NewDisposeScope();
        long[] prompt = [3, 1, 0, 2];   // [B, L]
        var emb = policy.EmbeddingWeight.data<float>().ToArray();   // [V, D]
        var enc = policy.EncodeWeights.data<float>().ToArray();     // [L, D, D]
        var dec = policy.DecodeWeights.data<float>().ToArray();     // [R, D, D]

        var expected = new double[B * R * V];
        for (int b = 0; b < B; b++)
        {
            // encoded[b,d2] = Σ_pos Σ_d1 emb[prompt[b,pos], d1] · enc[pos, d1, d2]
            var encoded = new double[D];
            for (int d2 = 0; d2 < D; d2++)
                for (int pos = 0; pos < L; pos++)
                    for (int d1 = 0; d1 < D; d1++)
                        encoded[d2] += emb[prompt[b * L + pos] * D + d1] * enc[(pos * D + d1) * D + d2];
            for (int r = 0; r < R; r++)
            {
                // decoded[b,r,d1] = Σ_d2 encoded[b,d2] · dec[r, d2, d1]
                var decoded = new double[D];
                for (int d1 = 0; d1 < D; d1++)
                    for (int d2 = 0; d2 < D; d2++)
                        decoded[d1] += encoded[d2] * dec[(r * D + d2) * D + d1];
                // logits[b,r,v] = Σ_d1 decoded[b,r,d1] · emb[v, d1]
                for (int v = 0; v < V; v++)
                    for (int d1 = 0; d1 < D; d1++)
                        expected[(b * R + r) * V + v] += decoded[d1] * emb[v * D + d1];
            }
        }

        var logits = policy.forward(tensor(prompt, new long[] { B, L }));

        Assert.That(logits.shape, Is.EqualTo(new long[] { B, R, V }));
        Assert.That(logits.data<float>().ToArray(), Is.EqualTo(expected).Within(1e-4));
    }

    [Test]
    public void Encode_And_Decode_Weights_Start_With_Std_One_Over_Sqrt_Dim()
    {
        manual_seed(4);
        using var policy = new SeedPolicy(vocab: 10, dim: 64, promptLength: 4, responseLength: 4);
        using var scope = NewDisposeScope();

        double Std(Tensor t)
        {
            var xs = t.data<float>().ToArray();
            double mean = xs.Average(x => (double)x);
            return Math.Sqrt(xs.Sum(x => (x - mean) * (x - mean)) / (xs.Length - 1));
        }

        Assert.That(Std(policy.EncodeWeights), Is.EqualTo(1 / Math.Sqrt(64)).Within(10).Percent);
        Assert.That(Std(policy.DecodeWeights), Is.EqualTo(1 / Math.Sqrt(64)).Within(10).Percent);
    }
}
