using System.Net;
using System.Text;
using LLaDA.Diffusion.Data;
using LLaDA.Diffusion.Sampling;
using ScottPlot;

namespace LLaDA.Cli.Commands;

/// <summary>Pictures of the denoising: an HTML page (each step's text, tokens coloured by the step they were fixed) or a PNG heat map (answer position × step).</summary>
public static class TraceWriter
{
    public static void Write(string path, ITokenizer tok, IReadOnlyList<SamplerStep> steps, SampleResult result, int row = 0)
    {
        if (path.EndsWith(".html", StringComparison.OrdinalIgnoreCase)) Html(path, tok, steps, result, row);
        else if (path.EndsWith(".png", StringComparison.OrdinalIgnoreCase)) Png(path, result, row);
        else throw new OptionException($"--trace-out {path}: use a .html or .png file");
    }

    /// <summary>Colour of a step on a blue (early) → red (late) ramp.</summary>
    private static string Hue(int step, int total) => $"hsl({(int)(240 - 240.0 * step / Math.Max(1, total - 1))}, 75%, 45%)";

    private static void Html(string path, ITokenizer tok, IReadOnlyList<SamplerStep> steps, SampleResult result, int row)
    {
        int total = Math.Max(1, result.Steps);
        var sb = new StringBuilder("<!doctype html><meta charset=\"utf-8\"><title>llada denoising trace</title>");
        sb.Append("<style>body{font-family:sans-serif}td{padding:2px 6px;vertical-align:top}.m{color:#bbb}.t{font-family:monospace;white-space:pre-wrap}</style>");
        sb.Append($"<h3>Denoising trace: {result.Steps} steps, {result.ForwardPasses} forward passes</h3><table>");
        foreach (var s in steps)
        {
            var toks = s.Tokens[row];
            int promptLen = toks.Length - s.FixedAtStep[row].Length;
            sb.Append($"<tr><td>step {s.Step}</td><td class=\"t\">");
            for (int i = 0; i < toks.Length; i++)
            {
                if (i < promptLen)
                {
                    sb.Append($"<b>{WebUtility.HtmlEncode(tok.Decode([toks[i]], skipSpecial: true))}</b>");
                    continue;
                }
                int fixedAt = s.FixedAtStep[row][i - promptLen];
                if (fixedAt < 0) sb.Append("<span class=\"m\">▢</span>");
                else sb.Append($"<span style=\"color:{Hue(fixedAt, total)}{(fixedAt == s.Step ? ";font-weight:bold;text-decoration:underline" : "")}\">{WebUtility.HtmlEncode(tok.Decode([toks[i]]))}</span>");
            }
            sb.Append("</td></tr>");
        }
        sb.Append("</table>");
        File.WriteAllText(path, sb.ToString());
    }

    private static void Png(string path, SampleResult result, int row)
    {
        var fixedAt = result.FixedAtStep[row];
        int steps = Math.Max(1, result.Steps), n = fixedAt.Length;
        // Rows = steps, columns = answer positions; a cell is 1 once the position is fixed, brighter for the step that fixed it.
        var grid = new double[steps, n];
        for (int s = 0; s < steps; s++)
            for (int i = 0; i < n; i++)
                grid[s, i] = fixedAt[i] < 0 || fixedAt[i] > s ? double.NaN : fixedAt[i] == s ? 2 : 1;
        var plt = new Plot();
        var hm = plt.Add.Heatmap(grid);
        hm.Colormap = new ScottPlot.Colormaps.Turbo();
        plt.Title($"denoising trace, {result.ForwardPasses} forward passes");
        plt.XLabel("answer position (bright: fixed at this step)");
        plt.YLabel("step");
        plt.Axes.InvertY();
        plt.SavePng(path, Math.Clamp(n * 14 + 160, 640, 2400), Math.Clamp(steps * 14 + 160, 360, 2400));
    }
}
