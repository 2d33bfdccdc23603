using System.Text.Json;
using GrpoPipeline.Core;
using ScottPlot;

namespace GrpoPipeline.Evaluation;

/// <summary>
/// <c>&lt;run&gt;/training.png</c> from <c>&lt;run&gt;/metrics.jsonl</c>: mean reward with a ±std band, exact match
/// (held-out greedy and training samples), the KL penalty, and the clip ratios, each against epoch.
/// </summary>
public static class TrainingPlot
{
    /// <summary>The metrics file the plot reads, in a run directory.</summary>
    public const string MetricsFile = "metrics.jsonl";
    /// <summary>The plot's file name, in a run directory.</summary>
    public const string FileName = "training.png";
    const int Width = 1400, Height = 900;
    /// <summary>Longer runs are averaged into this many points per curve, which also smooths the noisy rollouts.</summary>
    const int MaxPoints = 2000;


    /// <summary>Writes the plot and returns its path (default <c>&lt;runDir&gt;/training.png</c>).</summary>
    /// <exception cref="EvaluationException">No metrics file, an unreadable line, or no epochs.</exception>
    public static string Write(string runDir, string? pngPath = null)
    {
        var metricsPath = Path.Combine(runDir, MetricsFile);
        if (!File.Exists(metricsPath)) throw new EvaluationException($"no {MetricsFile} in '{Path.GetFullPath(runDir)}': is it a run directory?");
        var epochs = ReadMetrics(metricsPath);
        if (epochs.Count == 0) throw new EvaluationException($"{metricsPath}: no epochs logged yet");
        pngPath = Path.GetFullPath(pngPath ?? Path.Combine(runDir, FileName));

        var multiplot = new Multiplot();
        multiplot.AddPlots(4);
        multiplot.Layout = new ScottPlot.MultiplotLayouts.Grid(2, 2);
        RewardPanel(multiplot.GetPlot(0), epochs);
        ExactPanel(multiplot.GetPlot(1), epochs);
        Panel(multiplot.GetPlot(2), "KL penalty (loss/kl)", "KL", epochs, (MetricKeys.LossKl, "KL(π‖π_ref)"));
        Panel(multiplot.GetPlot(3), "PPO clip ratios", "share of clipped ratios", epochs, (MetricKeys.ClipRatioLow, "ratio < 1−ε_low"), (MetricKeys.ClipRatioHigh, "ratio > 1+ε_high"));
        multiplot.SharedAxes.ShareX(multiplot.GetPlots());

        AtomicFile.WriteVia(pngPath, tmp => multiplot.SavePng(tmp, Width, Height));
        return pngPath;
    }

    /// <summary>One dictionary per line; null (a non-finite value) becomes NaN.</summary>
    internal static List<(int Epoch, Dictionary<string, double> Values)> ReadMetrics(string path)
    {
        var rows = new List<(int, Dictionary<string, double>)>();
        int line = 0;
        foreach (var text in File.ReadLines(path))
        {
            line++;
            if (string.IsNullOrWhiteSpace(text)) continue;
            try
            {
                using var doc = JsonDocument.Parse(text);
                var values = new Dictionary<string, double>();
                int? epoch = null;
                foreach (var property in doc.RootElement.EnumerateObject())
                {
                    if (property.Name == MetricKeys.Epoch) epoch = property.Value.GetInt32();
                    else values[property.Name] = property.Value.ValueKind == JsonValueKind.Number ? property.Value.GetDouble() : double.NaN;
                }
                rows.Add((epoch ?? throw new EvaluationException($"{path}:{line}: no \"epoch\" key"), values));
            }
            catch (Exception e) when (e is JsonException or InvalidOperationException or FormatException)
            {
                throw new EvaluationException($"{path}:{line}: not a metrics line: {e.Message}", e);
            }
        }
        return rows;
    }

    static void RewardPanel(Plot plot, List<(int Epoch, Dictionary<string, double> Values)> epochs)
    {
        var points = epochs.Where(e => Finite(e.Values, MetricKeys.RewardMean) && Finite(e.Values, MetricKeys.RewardStd))
            .Select(e => (X: (double)e.Epoch, Mean: e.Values[MetricKeys.RewardMean], Std: e.Values[MetricKeys.RewardStd])).ToList();
        var (xs, means) = Downsample(points.Select(p => p.X).ToArray(), points.Select(p => p.Mean).ToArray());
        var (_, stds) = Downsample(points.Select(p => p.X).ToArray(), points.Select(p => p.Std).ToArray());
        if (xs.Length > 0)
        {
            var band = plot.Add.FillY(xs, means.Zip(stds, (m, s) => m - s).ToArray(), means.Zip(stds, (m, s) => m + s).ToArray());
            band.FillColor = Colors.SteelBlue.WithAlpha(0.25);
            band.LineWidth = 0;
            band.LegendText = "± std (within the rollout)";
            var line = plot.Add.ScatterLine(xs, means, Colors.SteelBlue);
            line.LineWidth = 2;
            line.LegendText = "mean reward";
        }
        Decorate(plot, "Training reward (sampled responses)", "reward", xs.Length > 0);
    }

    static void ExactPanel(Plot plot, List<(int Epoch, Dictionary<string, double> Values)> epochs)
    {
        bool any = false;
        var (tx, ty) = Series(epochs, MetricKeys.RewardExact);
        if (tx.Length > 0)
        {
            var train = plot.Add.ScatterLine(tx, ty, Colors.Gray);
            train.LegendText = "training samples exact";
            any = true;
        }
        var (hx, hy) = Series(epochs, MetricKeys.HeldOutExact);
        if (hx.Length > 0)
        {
            var heldOut = plot.Add.Scatter(hx, hy, Colors.OrangeRed);
            heldOut.LineWidth = 2;
            heldOut.MarkerSize = hx.Length > 200 ? 0 : 5;
            heldOut.LegendText = "held-out exact (greedy)";
            any = true;
        }
        // Early in a run exact match sits near 0; a fixed 0..1 axis would flatten it into the floor.
        double top = ty.Concat(hy).DefaultIfEmpty(0).Max();
        plot.Axes.SetLimitsY(-0.02 * Math.Max(top, 0.05), Math.Min(1.02, Math.Max(0.05, top * 1.1)));
        Decorate(plot, "Exact match", "share of prompts sorted exactly", any);
    }

    static void Panel(Plot plot, string title, string yLabel, List<(int Epoch, Dictionary<string, double> Values)> epochs, params (string Key, string Label)[] series)
    {
        var palette = new ScottPlot.Palettes.Category10();
        bool any = false;
        for (int i = 0; i < series.Length; i++)
        {
            var (xs, ys) = Series(epochs, series[i].Key);
            if (xs.Length == 0) continue;
            var line = plot.Add.ScatterLine(xs, ys, palette.GetColor(i));
            line.LineWidth = 1.5f;
            line.LegendText = series[i].Label;
            any = true;
        }
        Decorate(plot, title, yLabel, any);
    }

    static void Decorate(Plot plot, string title, string yLabel, bool hasData)
    {
        plot.Title(title);
        plot.XLabel("epoch");
        plot.YLabel(yLabel);
        if (hasData) plot.ShowLegend(Alignment.UpperLeft);
        else plot.Add.Annotation("not logged in this run", Alignment.MiddleCenter);
    }

    static bool Finite(Dictionary<string, double> values, string key) => values.TryGetValue(key, out var v) && double.IsFinite(v);

    static (double[] Xs, double[] Ys) Series(List<(int Epoch, Dictionary<string, double> Values)> epochs, string key)
    {
        var points = epochs.Where(e => Finite(e.Values, key)).ToList();
        return Downsample(points.Select(e => (double)e.Epoch).ToArray(), points.Select(e => e.Values[key]).ToArray());
    }

    /// <summary>Averages consecutive points into at most <see cref="MaxPoints"/> bins.</summary>
    internal static (double[] Xs, double[] Ys) Downsample(double[] xs, double[] ys, int maxPoints = MaxPoints)
    {
        if (xs.Length <= maxPoints) return (xs, ys);
        var bx = new double[maxPoints];
        var by = new double[maxPoints];
        for (int b = 0; b < maxPoints; b++)
        {
            int start = (int)((long)b * xs.Length / maxPoints), end = (int)((long)(b + 1) * xs.Length / maxPoints);
            double sx = 0, sy = 0;
            for (int i = start; i < end; i++) { sx += xs[i]; sy += ys[i]; }
            bx[b] = sx / (end - start);
            by[b] = sy / (end - start);
        }
        return (bx, by);
    }
}
