using GrpoPipeline.Core;
using ScottPlot;

namespace GrpoPipeline.Evaluation;

/// <summary>
/// <c>evaluation.png</c>: per-position accuracy (left), the distribution of the inclusion + ordering reward (middle),
/// and exact match against prompt length with its 95% interval (right), one colour per model. A sorter is one point
/// on the length chart; a decoder a line over its lengths.
/// </summary>
public static class EvaluationPlot
{
    const int Width = 2100, Height = 560;

    /// <summary>Draws <paramref name="report"/> into <paramref name="pngPath"/>, atomically.</summary>
    public static void Write(EvaluationReport report, string pngPath)
    {
        var multiplot = new Multiplot();
        multiplot.AddPlots(3);
        multiplot.Layout = new ScottPlot.MultiplotLayouts.Columns();
        var (accuracy, rewards, byLength) = (multiplot.GetPlot(0), multiplot.GetPlot(1), multiplot.GetPlot(2));
        var palette = new ScottPlot.Palettes.Category10();
        int models = report.Models.Count;
        // Grouped bars: the models share each reward value's unit width.
        double barWidth = 0.8 / models;

        for (int k = 0; k < models; k++)
        {
            var m = report.Models[k];
            var color = palette.GetColor(k);
            string label = $"#{m.Rank} {Path.GetFileNameWithoutExtension(m.Model)} (epoch {m.Epoch})";

            var line = accuracy.Add.Scatter(Enumerable.Range(0, m.PerPositionAccuracy.Length).Select(i => (double)i).ToArray(), m.PerPositionAccuracy, color);
            line.LegendText = label;
            line.LineWidth = 2;
            line.MarkerSize = 7;

            var bars = m.InclusionOrderingDistribution.Select((count, reward) => new Bar
            {
                Position = reward - 0.4 + barWidth * (k + 0.5),
                Value = (double)count / m.Prompts,
                Size = barWidth,
                FillColor = color,
                LineWidth = 0,
            }).ToList();
            var barPlot = rewards.Add.Bars(bars);
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

        accuracy.Title("Per-position accuracy (greedy response vs sorted prompt)");
        accuracy.XLabel("position");
        accuracy.YLabel("accuracy");
        accuracy.Axes.SetLimitsY(0, 1.05);
        accuracy.Axes.Bottom.TickGenerator = new ScottPlot.TickGenerators.NumericFixedInterval(1);
        accuracy.ShowLegend(Alignment.LowerLeft);

        rewards.Title("Inclusion + ordering reward distribution");
        rewards.XLabel($"inclusion + ordering (max {string.Join("/", report.Models.Select(m => m.MaxInclusionOrdering).Distinct())})");
        rewards.YLabel("share of prompts");
        rewards.Axes.Margins(bottom: 0);
        rewards.Axes.Bottom.TickGenerator = new ScottPlot.TickGenerators.NumericFixedInterval(1);
        rewards.ShowLegend(Alignment.UpperLeft);

        byLength.Title("Exact match by prompt length (95% Wilson interval)");
        byLength.XLabel("prompt length");
        byLength.YLabel("exact match");
        byLength.Axes.SetLimitsY(0, 1.05);
        byLength.Axes.Bottom.TickGenerator = new ScottPlot.TickGenerators.NumericFixedInterval(1);
        byLength.ShowLegend(Alignment.LowerLeft);

        AtomicFile.WriteVia(pngPath, tmp => multiplot.SavePng(tmp, Width, Height));
    }
}
