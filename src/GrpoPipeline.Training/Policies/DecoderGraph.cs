using GrpoPipeline.Core;
using GrpoPipeline.Training.Onnx;
using static GrpoPipeline.Training.Onnx.OnnxGraphBuilder;

namespace GrpoPipeline.Training.Policies;

/// <summary>
/// The <c>decoder/1</c> graph of a <see cref="DecoderPolicy"/>: one graph for the prefill and every decode step.
/// <c>past_sequence</c> cached columns come in per layer; the <c>sequence</c> new tokens attend to the real ones among
/// the past and to themselves causally, as <see cref="DecoderPolicy"/> does (a PAD query to itself only); each layer's
/// <c>present</c> is the past with the new keys and values appended. Token activations stay 2-D, [B·S, d], so every
/// Linear is one Gemm; the attention bias is built once from <c>attention_mask</c> and shared by the layers.
/// </summary>
static class DecoderGraph
{
    /// <summary>Adds the decoder's nodes to <paramref name="g"/> (inputs and outputs are the caller's).</summary>
    public static void Build(OnnxGraphBuilder g, DecoderPolicy p)
    {
        var layers = new OnnxLayers(g);
        int d = p.DModel, h = p.Heads, dh = d / h, v = p.Vocab;
        var zero = g.Int64Scalar("i64_zero", 0);
        var one = g.Int64Scalar("i64_one", 1);

        // The shapes the graph needs at run time: S new tokens, P cached ones, T = P + S.
        var idsShape = g.Node("Shape", [OnnxContract.InputIds], "ids_shape");                                         // [B, S]
        var s = g.Node("Gather", [idsShape, one], "sequence");
        var past = g.Node("Gather", [g.Node("Shape", [OnnxContract.PastKey(0)], "past_shape"), g.Int64Scalar("i64_two", 2)], "past_sequence");
        var total = g.Node("Add", [past, s], "total_sequence");

        // x = token + position embeddings, [B·S, d].
        var tokens = g.Node("Gather", [g.Initializer("token_embedding.weight", OnnxLayers.Floats(p.TokenEmbedding), SpecialTokens.InputVocab(v), d), OnnxContract.InputIds],
            "token_embeddings", Int("axis", 0));
        var positions = PositionVectors(g, p);
        var tokenShape = g.Int64Initializer("shape_bs_d", -1, d);
        var x = g.Node("Reshape", [g.Node("Add", [tokens, positions], "x0"), tokenShape], "x0_tokens");

        // Attention bias [B, 1, S, T]: query i (cache column P + i) sees real keys j ≤ P + i, and itself.
        var queries = g.Node("Add", [g.Node("Range", [zero, s, one], "query_range"), past], "query_columns");         // [S]
        var keys = g.Node("Range", [zero, total, one], "key_columns");                                               // [T]
        var keyRow = g.Node("Unsqueeze", [keys, g.Int64Initializer("axes_0", 0)], "key_row");                        // [1, T]
        var queryColumn = g.Node("Unsqueeze", [queries, g.Int64Initializer("axes_1", 1)], "query_column");            // [S, 1]
        var causal = g.Node("LessOrEqual", [keyRow, queryColumn], "causal");                                           // [S, T]
        var self = g.Node("Equal", [keyRow, queryColumn], "self");
        var real = g.Node("Cast", [g.Node("Unsqueeze", [OnnxContract.AttentionMask, g.Int64Initializer("axes_1_2", 1, 2)], "mask_4d")], "real_keys",
            Int("to", 9));                                                                                              // BOOL, [B, 1, 1, T]
        var allowed = g.Node("Or", [g.Node("And", [causal, real], "causal_real"), self], "allowed");                  // [B, 1, S, T]
        var bias = g.Node("Where", [allowed, g.FloatScalar("bias_allowed", 0f), g.FloatScalar("bias_masked", -1e9f)], "attention_bias");

        var splitShape = g.Node("Concat", [idsShape, g.Int64Initializer("shape_3h_dh", 3 * h, dh)], "shape_b_s_3h_dh", Int("axis", 0));
        var scale = g.FloatScalar("attention_scale", (float)(1 / Math.Sqrt(dh)));
        int i = 0;
        foreach (var block in p.Blocks)
        {
            string n = $"blocks.{i}";
            var (q, k, vals) = layers.Heads(n, block, x, splitShape);
            var keysAll = g.Node("Concat", [OnnxContract.PastKey(i), k], OnnxContract.PresentKey(i), Int("axis", 2));       // [B, H, T, dh]
            var valuesAll = g.Node("Concat", [OnnxContract.PastValue(i), vals], OnnxContract.PresentValue(i), Int("axis", 2));
            var kT = g.Node("Transpose", [keysAll], $"{n}.k_t", Ints("perm", 0, 1, 3, 2));
            var scores = g.Node("Add", [g.Node("Mul", [g.Node("MatMul", [q, kT], $"{n}.qk"), scale], $"{n}.scaled"), bias], $"{n}.scores");
            var weights = g.Node("Softmax", [scores], $"{n}.attention", Int("axis", -1));
            x = layers.Finish(n, block, x, g.Node("MatMul", [weights, valuesAll], $"{n}.attended_heads"), tokenShape);
            i++;
        }

        // The head over token ids: values keep their rows, SEP gets a constant −1e9 (never generated), EOS the head's last.
        var (weightT, bias2) = HeadById(p);
        var logits = g.Node("Gemm", [layers.LayerNorm("final_norm", p.FinalNorm, x), g.Initializer("head.weight.T.by_id", weightT, d, v + 2),
            g.Initializer("head.bias.by_id", bias2, v + 2)], "head");
        g.Node("Reshape", [logits, g.Node("Concat", [idsShape, g.Int64Initializer("shape_v2", v + 2)], "shape_b_s_v2", Int("axis", 0))],
            OnnxContract.LogitsOutput);
    }

    /// <summary>The head as Wᵀ [d, V+2] and b [V+2] indexed by token id, as <c>DecoderPolicy</c> lays its logits out: output V (EOS) moves to id V+1, id V is SEP.</summary>
    static (float[] WeightT, float[] Bias) HeadById(DecoderPolicy p)
    {
        int d = p.DModel, v = p.Vocab;
        var w = OnnxLayers.Floats(p.Head.weight!);     // [V+1, d]
        var b = OnnxLayers.Floats(p.Head.bias!);       // [V+1]
        var weightT = new float[d * (v + 2)];
        var bias = new float[v + 2];
        for (int id = 0; id < v + 2; id++)
        {
            int output = id < v ? id : id == v + 1 ? v : -1;
            bias[id] = output < 0 ? -1e9f : b[output];
            if (output >= 0)
                for (int k = 0; k < d; k++) weightT[k * (v + 2) + id] = w[output * d + k];
        }
        return (weightT, bias);
    }

    /// <summary>
    /// The position vectors [B, S, d] of <c>position_ids</c>, as <see cref="DecoderPolicy.PositionVectors"/> computes
    /// them: a row of the table per id; for <see cref="DecoderPositions.Mirrored"/>, row maxLength − 1 − id before SEP
    /// (id &lt; maxLength) and row id − maxLength from SEP on, plus the table's last row there. The caller computes the
    /// ids of the model's scheme (<see cref="OnnxContract.Metadata.Positions"/>).
    /// </summary>
    static string PositionVectors(OnnxGraphBuilder g, DecoderPolicy p)
    {
        int d = p.DModel;
        var table = g.Initializer("position_embedding", OnnxLayers.Floats(p.PositionEmbedding), p.Positions, d);
        if (p.PositionOrigin != DecoderPositions.Mirrored)
            return g.Node("Gather", [table, OnnxContract.PositionIds], "position_embeddings", Int("axis", 0));
        var maxLength = g.Int64Scalar("i64_max_length", p.MaxLength);
        var after = g.Node("GreaterOrEqual", [OnnxContract.PositionIds, maxLength], "positions_after_sep");              // [B, S]
        var rows = g.Node("Where", [after, g.Node("Sub", [OnnxContract.PositionIds, maxLength], "positions_from_sep"),
            g.Node("Sub", [g.Int64Scalar("i64_last_prompt", p.MaxLength - 1L), OnnxContract.PositionIds], "positions_before_sep")], "position_rows");
        var side = g.Node("Gather", [table, g.Int64Scalar("i64_side_row", p.Positions - 1L)], "response_side");             // [d]
        var sideMask = g.Node("Unsqueeze", [g.Node("Cast", [after], "positions_after_sep_f", Int("to", 1)),   // FLOAT
            g.Int64Initializer("axes_last", -1)], "positions_after_sep_f3");                                                 // [B, S, 1]
        return g.Node("Add", [g.Node("Gather", [table, rows], "position_rows_embeddings", Int("axis", 0)),
            g.Node("Mul", [sideMask, side], "response_side_embeddings")], "position_embeddings");
    }
}
