using System.Collections.Concurrent;

namespace LLaDA.Tensors.Cpu;

/// <summary>Cached cos/sin tables of rotary embeddings, computed in fp32 exactly as the reference does (rope_full_precision).</summary>
/// <remarks>LLaDA/HF: inv_freq[i] = 1 / θ^(2i/D) in fp32; angle = position·inv_freq[i] in fp32; cos/sin of that fp32 angle.</remarks>
public static class RopeTable
{
    private static readonly ConcurrentDictionary<(float Theta, int D), (float[] Cos, float[] Sin)> Tables = new();

    /// <summary>Tables of shape (positions ≥ <paramref name="positions"/>, D/2), row p at offset p·D/2.</summary>
    public static (float[] Cos, float[] Sin) Get(float theta, int d, int positions)
    {
        if (d % 2 != 0) throw new TensorException($"Rope: head size {d} must be even");
        var key = (theta, d);
        if (Tables.TryGetValue(key, out var tab) && tab.Cos.Length >= positions * (d / 2)) return tab;
        lock (Tables)
        {
            if (Tables.TryGetValue(key, out tab) && tab.Cos.Length >= positions * (d / 2)) return tab;
            int half = d / 2;
            int cap = Math.Max(positions, 64);
            cap = (int)Math.Min(int.MaxValue / half, 1L << (int)Math.Ceiling(Math.Log2(cap)));
            var cos = new float[cap * half];
            var sin = new float[cap * half];
            var inv = new float[half];
            for (int i = 0; i < half; i++) inv[i] = 1f / MathF.Pow(theta, 2f * i / d);
            for (int p = 0; p < cap; p++)
                for (int i = 0; i < half; i++)
                {
                    float a = p * inv[i];
                    cos[p * half + i] = MathF.Cos(a);
                    sin[p * half + i] = MathF.Sin(a);
                }
            tab = (cos, sin);
            Tables[key] = tab;
            return tab;
        }
    }
}
