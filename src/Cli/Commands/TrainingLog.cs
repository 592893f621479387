using System.Globalization;
using System.Text.Json;
using LLaDA.Diffusion.Training;
using ScottPlot;

namespace LLaDA.Cli.Commands;

/// <summary>Per-step CSV and JSONL logs of a run, and the loss-curve PNG of the whole run.</summary>
public sealed class TrainingLog : IDisposable
{
    public const string CsvFile = "log.csv";
    public const string JsonlFile = "log.jsonl";
    public const string PlotFile = "loss.png";
    private const string CsvHeader = "step,loss,eval_loss,lr,grad_norm,tokens_per_s,masked_tokens,step_s,loss_var";

    private readonly StreamWriter _csv;
    private readonly StreamWriter _jsonl;
    private readonly List<(int Step, double Loss)> _train = new();
    private readonly List<(int Step, double Loss)> _eval = new();

    /// <summary>Starts the logs of a fresh run (<paramref name="resumedAt"/> null) or continues those of a run resumed with
    /// <paramref name="resumedAt"/> steps done: rows of later steps (logged after its checkpoint, before a kill) are dropped,
    /// so no step appears twice, and the kept rows feed the plot of the whole run. A row's step is 0-based (row k is the k+1-th step).</summary>
    public TrainingLog(string dir, int? resumedAt)
    {
        Directory.CreateDirectory(dir);
        string csv = Path.Combine(dir, CsvFile), jsonl = Path.Combine(dir, JsonlFile);
        if (resumedAt is int s)
        {
            KeepBefore(csv, s, header: true, (step, line) =>
            {
                var f = line.Split(',');
                if (double.TryParse(f[1], NumberStyles.Float, CultureInfo.InvariantCulture, out double loss)) _train.Add((step, loss));
                if (f.Length > 2 && double.TryParse(f[2], NumberStyles.Float, CultureInfo.InvariantCulture, out double ev)) _eval.Add((step, ev));
            });
            KeepBefore(jsonl, s, header: false, null);
        }
        bool append = resumedAt is not null && File.Exists(csv);
        _csv = new StreamWriter(csv, append) { AutoFlush = true };
        _jsonl = new StreamWriter(jsonl, append) { AutoFlush = true };
        if (!append) _csv.WriteLine(CsvHeader);
        PlotPath = Path.Combine(dir, PlotFile);
    }

    /// <summary>Rewrites a log (atomically) with only the rows of steps &lt; <paramref name="end"/>; rows are told by their leading step
    /// number (CSV) or "step" field (JSONL). A torn last row of a killed run is dropped with the rest.</summary>
    private static void KeepBefore(string path, int end, bool header, Action<int, string>? kept)
    {
        if (!File.Exists(path)) return;
        var keep = header ? new List<string> { CsvHeader } : new List<string>();
        foreach (var line in File.ReadLines(path))
        {
            if (StepOf(line, header) is int step && step < end && RowComplete(line, header))
            {
                keep.Add(line);
                kept?.Invoke(step, line);
            }
        }
        LLaDA.Nn.Serialization.AtomicFile.WriteText(path, keep.Count == 0 ? "" : string.Join('\n', keep) + "\n");
    }

    private static int? StepOf(string line, bool csv)
    {
        if (csv)
        {
            int comma = line.IndexOf(',');
            return comma > 0 && int.TryParse(line.AsSpan(0, comma), NumberStyles.None, CultureInfo.InvariantCulture, out int s) ? s : null;
        }
        try
        {
            using var doc = JsonDocument.Parse(line);
            return doc.RootElement.TryGetProperty("step", out var p) && p.ValueKind == JsonValueKind.Number && p.TryGetInt32(out int s) ? s : null;
        }
        catch (JsonException)
        {
            return null;
        }
    }

    private static bool RowComplete(string line, bool csv) => !csv || line.Count(c => c == ',') == CsvHeader.Count(c => c == ',');

    public string PlotPath { get; }

    /// <summary>The (step, training loss) points the plot draws: the whole run, including the rows kept from before a resume.</summary>
    public IReadOnlyList<(int Step, double Loss)> TrainLoss => _train;

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
