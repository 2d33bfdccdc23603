using GrpoPipeline.Core;
using ScottPlot;

namespace GrpoPipeline.Evaluation;

/// <summary>One variant's curves, one per seed, over the same x values.</summary>
/// <param name="Label">The variant.</param>
/// <param name="Xs">The x values (epochs), shared by every seed.</param>
/// <param name="Curves">One y value per x, per seed.</param>
public sealed record CurveSet(string Label, double[] Xs, double[][] Curves);

/// <summary>
/// An experiment's chart: per variant, the mean over seeds with a ±std band — the training reward per epoch, the greedy
/// held-out exact match, and, when given, the share of groups whose rewards all tie (reward/frac_zero_std).
/// </summary>
public static class ExperimentPlot
{
    /// <summary>Writes the chart to <paramref name="pngPath"/>, atomically.</summary>
    public static void Write(string pngPath, string title, IReadOnlyList<CurveSet> rewards, IReadOnlyList<CurveSet> heldOut, IReadOnlyList<CurveSet>? tied = null)
    {
        var multiplot = new Multiplot();
        multiplot.AddPlots(tied is null ? 2 : 3);
        multiplot.Layout = new ScottPlot.MultiplotLayouts.Columns();
        Panel(multiplot.GetPlot(0), $"{title}: training reward", "mean reward (band: ± std over seeds)", rewards, Alignment.LowerRight);
        Panel(multiplot.GetPlot(1), $"{title}: held-out exact", "greedy held-out exact match", heldOut, Alignment.LowerRight);
        multiplot.GetPlot(1).Axes.SetLimitsY(0, 1.02);
        if (tied is not null)
        {
            Panel(multiplot.GetPlot(2), $"{title}: tied groups", "reward/frac_zero_std (groups with no signal)", tied, Alignment.LowerRight);
            multiplot.GetPlot(2).Axes.SetLimitsY(0, 1.02);
        }
        AtomicFile.WriteVia(pngPath, tmp => multiplot.SavePng(tmp, tied is null ? 1600 : 2400, 650));
    }

    static void Panel(Plot plot, string title, string yLabel, IReadOnlyList<CurveSet> series, Alignment legend)
    {
        var palette = new ScottPlot.Palettes.Category10();
        for (int i = 0; i < series.Count; i++)
        {
            var (label, xs, curves) = series[i];
            if (curves.Length == 0 || xs.Length == 0) continue;
            var mean = new double[xs.Length];
            var std = new double[xs.Length];
            for (int e = 0; e < xs.Length; e++)
            {
                mean[e] = curves.Average(c => c[e]);
                std[e] = Math.Sqrt(curves.Average(c => (c[e] - mean[e]) * (c[e] - mean[e])));
            }
            var (dx, dm) = TrainingPlot.Downsample(xs, mean, 500);
            var (_, ds) = TrainingPlot.Downsample(xs, std, 500);
            var color = palette.GetColor(i);
            var band = plot.Add.FillY(dx, dm.Zip(ds, (m, s) => m - s).ToArray(), dm.Zip(ds, (m, s) => m + s).ToArray());
            band.FillColor = color.WithAlpha(0.2);
            band.LineWidth = 0;
            var line = plot.Add.ScatterLine(dx, dm, color);
            line.LineWidth = 2;
            line.LegendText = $"{label} (n={curves.Length})";
        }
        plot.Title(title);
        plot.XLabel("epoch");
        plot.YLabel(yLabel);
        plot.ShowLegend(legend);
    }
}
