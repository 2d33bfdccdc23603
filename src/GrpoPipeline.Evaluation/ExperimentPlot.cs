using GrpoPipeline.Core;
using ScottPlot;

namespace GrpoPipeline.Evaluation;

/// <summary>Reward curves of an experiment: one line per variant (mean over seeds) with a ±std band across seeds.</summary>
public static class ExperimentPlot
{
    /// <summary>
    /// Writes the chart to <paramref name="pngPath"/>. Each series is a label and one reward-per-epoch curve per seed
    /// (all of the same length).
    /// </summary>
    public static void Write(string pngPath, string title, IReadOnlyList<(string Label, double[][] Curves)> series)
    {
        var plot = new Plot();
        var palette = new ScottPlot.Palettes.Category10();
        for (int i = 0; i < series.Count; i++)
        {
            var (label, curves) = series[i];
            if (curves.Length == 0 || curves[0].Length == 0) continue;
            int epochs = curves[0].Length;
            var xs = Enumerable.Range(1, epochs).Select(e => (double)e).ToArray();
            var mean = new double[epochs];
            var std = new double[epochs];
            for (int e = 0; e < epochs; e++)
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
        plot.YLabel("mean reward (band: ± std over seeds)");
        plot.ShowLegend(Alignment.LowerRight);
        Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(pngPath))!);
        AtomicFile.WriteVia(pngPath, tmp => plot.SavePng(tmp, 1200, 700));
    }
}
