using GrpoPipeline.Core;
using ScottPlot;

namespace GrpoPipeline.Evaluation;

/// <summary>
/// <c>evaluation.png</c>: exact match and mean reward share per model (left) and exact match against prompt length with
/// its 95% interval (right), one colour per model. A factorised policy is one point on the length chart; a decoder a
/// line over its lengths.
/// </summary>
public static class EvaluationPlot
{
    const int Width = 1600, Height = 560;

    /// <summary>Draws <paramref name="report"/> into <paramref name="pngPath"/>, atomically.</summary>
    public static void Write(EvaluationReport report, string pngPath)
    {
        var multiplot = new Multiplot();
        multiplot.AddPlots(2);
        multiplot.Layout = new ScottPlot.MultiplotLayouts.Columns();
        var (scores, byLength) = (multiplot.GetPlot(0), multiplot.GetPlot(1));
        var palette = new ScottPlot.Palettes.Category10();
        int models = report.Models.Count;
        // Grouped bars: the models share each measure's unit width.
        double barWidth = 0.8 / models;

        for (int k = 0; k < models; k++)
        {
            var m = report.Models[k];
            var color = palette.GetColor(k);
            string label = $"{m.Task} #{m.Rank} {Path.GetFileNameWithoutExtension(m.Model)} (epoch {m.Epoch})";

            var bars = new[] { m.ExactMatch, m.MeanRewardShare }.Select((value, measure) => new Bar
            {
                Position = measure - 0.4 + barWidth * (k + 0.5),
                Value = value,
                Size = barWidth,
                FillColor = color,
                LineWidth = 0,
            }).ToList();
            var barPlot = scores.Add.Bars(bars);
            barPlot.LegendText = label;

            double[] lengths = m.ByLength.Select(l => (double)l.Length).ToArray(), exact = m.ByLength.Select(l => l.ExactMatch).ToArray();
            // Wilson intervals are asymmetric: set both sides on the plottable (the adder takes symmetric errors only).
            var errors = byLength.Add.ErrorBar(lengths, exact, new double[lengths.Length]);
            errors.YErrorNegative = m.ByLength.Select(l => l.ExactMatch - l.ExactMatchInterval.Low).ToArray();
            errors.YErrorPositive = m.ByLength.Select(l => l.ExactMatchInterval.High - l.ExactMatch).ToArray();
            errors.Color = color;
            var exactLine = byLength.Add.Scatter(lengths, exact, color);
            exactLine.LegendText = label;
            exactLine.LineWidth = 2;
            exactLine.MarkerSize = 8;
        }

        scores.Title("Exact match and reward share (task's default weights)");
        scores.Axes.Bottom.SetTicks([0, 1], ["exact match", "reward share"]);
        scores.YLabel("share");
        scores.Axes.SetLimitsY(0, 1.05);
        scores.ShowLegend(Alignment.LowerLeft);

        byLength.Title("Exact match by prompt length (95% Wilson interval)");
        byLength.XLabel("prompt length");
        byLength.YLabel("exact match");
        byLength.Axes.SetLimitsY(0, 1.05);
        byLength.Axes.Bottom.TickGenerator = new ScottPlot.TickGenerators.NumericFixedInterval(1);
        byLength.ShowLegend(Alignment.LowerLeft);

        AtomicFile.WriteVia(pngPath, tmp => multiplot.SavePng(tmp, Width, Height));
    }
}
