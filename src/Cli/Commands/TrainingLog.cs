using System.Globalization;
using System.Text.Json;
using LLaDA.Diffusion.Training;
using ScottPlot;

namespace LLaDA.Cli.Commands;

/// <summary>Per-step CSV and JSONL logs of a run, and the loss-curve PNG.</summary>
public sealed class TrainingLog : IDisposable
{
    private readonly StreamWriter _csv;
    private readonly StreamWriter _jsonl;
    private readonly List<(int Step, double Loss)> _train = new();
    private readonly List<(int Step, double Loss)> _eval = new();

    public TrainingLog(string dir, bool append)
    {
        Directory.CreateDirectory(dir);
        string csv = Path.Combine(dir, "log.csv");
        bool header = !append || !File.Exists(csv);
        _csv = new StreamWriter(csv, append) { AutoFlush = true };
        _jsonl = new StreamWriter(Path.Combine(dir, "log.jsonl"), append) { AutoFlush = true };
        if (header) _csv.WriteLine("step,loss,eval_loss,lr,grad_norm,tokens_per_s,masked_tokens,step_s,loss_var");
        PlotPath = Path.Combine(dir, "loss.png");
    }

    public string PlotPath { get; }

    public void Step(StepReport r, double? evalLoss)
    {
        double tps = r.Tokens / Math.Max(r.Seconds, 1e-9);
        _train.Add((r.Step, r.Loss));
        if (evalLoss is double e && double.IsFinite(e)) _eval.Add((r.Step, e));
        string ev = evalLoss is double x && double.IsFinite(x) ? x.ToString("R", CultureInfo.InvariantCulture) : "";
        _csv.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{r.Step},{r.Loss:R},{ev},{r.Lr:R},{r.GradNorm:R},{tps:F1},{r.MaskedTokens},{r.Seconds:F4},{(double.IsFinite(r.LossVariance) ? r.LossVariance.ToString("R", CultureInfo.InvariantCulture) : "")}"));
        _jsonl.WriteLine(JsonSerializer.Serialize(new
        {
            step = r.Step, loss = r.Loss, eval_loss = evalLoss is double y && double.IsFinite(y) ? y : (double?)null,
            lr = r.Lr, grad_norm = r.GradNorm, tokens_per_s = Math.Round(tps, 1), masked_tokens = r.MaskedTokens, step_s = r.Seconds,
            loss_var = double.IsFinite(r.LossVariance) ? r.LossVariance : (double?)null,
        }));
    }

    /// <summary>Writes loss.png: training loss (and its moving average) and held-out loss against the step.</summary>
    public void Plot(string title)
    {
        if (_train.Count == 0) return;
        var plt = new Plot();
        var xs = _train.Select(t => (double)t.Step).ToArray();
        var ys = _train.Select(t => t.Loss).ToArray();
        var raw = plt.Add.Scatter(xs, ys);
        raw.LegendText = "train loss";
        raw.MarkerSize = 0;
        raw.LineWidth = 1;
        raw.Color = raw.Color.WithAlpha(0.35);
        int win = Math.Max(1, _train.Count / 30);
        var smooth = new double[ys.Length];
        double acc = 0;
        for (int i = 0; i < ys.Length; i++)
        {
            acc += ys[i];
            if (i >= win) acc -= ys[i - win];
            smooth[i] = acc / Math.Min(i + 1, win);
        }
        var sm = plt.Add.Scatter(xs, smooth);
        sm.LegendText = $"train (moving avg {win})";
        sm.MarkerSize = 0;
        sm.LineWidth = 2;
        if (_eval.Count > 0)
        {
            var ev = plt.Add.Scatter(_eval.Select(e => (double)e.Step).ToArray(), _eval.Select(e => e.Loss).ToArray());
            ev.LegendText = "held-out loss";
            ev.MarkerSize = 6;
            ev.LineWidth = 2;
        }
        plt.Title(title);
        plt.XLabel("step");
        plt.YLabel("loss");
        plt.ShowLegend();
        plt.SavePng(PlotPath, 900, 520);
    }

    public void Dispose()
    {
        _csv.Dispose();
        _jsonl.Dispose();
    }
}
