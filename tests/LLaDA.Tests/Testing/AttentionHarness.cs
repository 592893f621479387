using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Text;
using ILGPU;
using ILGPU.Runtime;
using LLaDA.Tensors;
using LLaDA.Tensors.Cpu;
using Xunit;

namespace LLaDA.Tests.Testing;

/// <summary>What the CPU and ILGPU attention tests share: operand layouts with NaN gaps, key-padding patterns, and
/// assertions against the double-precision references that also catch writes outside an operand.</summary>
public static unsafe class AttentionHarness
{
    /// <summary>Operand layouts: (B, NH, T, HS), (B, T, NH, HS), and a strided slice of a fused (B, T, 3·NH·HS + 5) buffer at offset 3.</summary>
    public enum Lay { Bhtd, Bthd, Fused }

    /// <summary>None: no padding array. Mixed: entry b % 4 = 0 all real; 1 left-padded by Tk/3 plus one interior key; 2 one real key; 3 all padded.</summary>
    public enum PadKind { None, Mixed }

    /// <summary>None: no padding. Mixed: entry b % 4 = 0 all real; 1 left-padded by Tk/3 plus one interior key; 2 one real key; 3 all padded.</summary>
    public static int[]? MakePadding(PadKind kind, int batch, int tk, Random rng)
    {
        if (kind == PadKind.None) return null;
        var pad = new int[batch * tk];
        for (int b = 0; b < batch; b++)
            for (int j = 0; j < tk; j++)
                pad[b * tk + j] = (b % 4) switch
                {
                    0 => 1,
                    1 => j < tk / 3 ? 0 : 1,
                    2 => j == tk / 2 ? 1 : 0,
                    _ => 0,
                };
        for (int b = 1; b < batch; b += 4)
            if (tk > 3) pad[b * tk + tk / 3 + rng.Next(tk - tk / 3)] = 0;
        return pad;
    }

    public static void AssertClose(string name, Operand fast, Operand reference, string what, double atol, double rtol)
    {
        double maxAbs = 0, worstRatio = -1;
        string worst = "";
        int failures = 0;
        var pairs = new StringBuilder();
        foreach ((int b, int h, int t, int d) in fast.Indices())
        {
            float f = fast.At(b, h, t, d), r = reference.At(b, h, t, d);
            double diff = Math.Abs((double)f - r), ratio = diff / (atol + rtol * Math.Abs(r));
            if (!float.IsFinite(f)) ratio = double.PositiveInfinity;
            maxAbs = Math.Max(maxAbs, float.IsFinite(f) ? diff : 0);
            if (ratio > worstRatio) { worstRatio = ratio; worst = $"({b},{h},{t},{d}) fast={f:G9} ref={r:G9}"; }
            if (ratio > 1 && failures++ < 4) pairs.Append($" ({b},{h},{t},{d}): {f:G7} vs {r:G7};");
        }
        Assert.True(failures == 0,
            $"{name} [{what}]: {failures} of {fast.Count} elements exceed {atol} + {rtol}·|ref|; worst (b,h,t,d)={worst}; max abs diff {maxAbs:E3}; pairs:{pairs}");
        long stray = fast.FirstWrittenGap();
        if (stray >= 0) Assert.Fail($"{name} [{what}]: element {stray} outside the operand was written ({fast.Data[stray]}).");
    }

    public static void AssertLse(float[] fast, float[] reference, string what, double atol)
    {
        for (int i = 0; i < fast.Length; i++)
        {
            bool ok = float.IsPositiveInfinity(reference[i])
                ? float.IsPositiveInfinity(fast[i])
                : Math.Abs(fast[i] - reference[i]) <= atol * (1 + Math.Abs(reference[i]));
            Assert.True(ok, $"lse [{what}]: index {i} (b·NH·Tq + h·Tq + t) fast={fast[i]:G9} ref={reference[i]:G9}");
        }
    }

    /// <summary>A 4-D (b, h, t, d) operand in a pinned host array (NaN in the gaps), with its layout and base offset.</summary>
    public sealed class Operand
    {
        public readonly float[] Data;
        public readonly AttnLayout Layout;
        private readonly Lay _lay;
        private readonly long _offset;
        private readonly int _b, _h, _t, _hs;

        private Operand(Lay lay, int b, int h, int t, int hs)
        {
            (_lay, _b, _h, _t, _hs) = (lay, b, h, t, hs);
            long size;
            switch (lay)
            {
                case Lay.Bhtd: Layout = AttnLayout.Bhtd(h, t, hs); _offset = 0; size = (long)b * h * t * hs; break;
                case Lay.Bthd: Layout = AttnLayout.Bthd(h, t, hs); _offset = 0; size = (long)b * h * t * hs; break;
                default:
                    long row = 3L * h * hs + 5;                      // one slice of a fused QKV row, plus odd padding
                    Layout = new AttnLayout(t * row, hs, row); _offset = 3; size = _offset + b * t * row; break;
            }
            Data = GC.AllocateArray<float>((int)size, pinned: true);
            Array.Fill(Data, float.NaN);
        }

        public static Operand Random(Lay lay, int b, int h, int t, int hs, Random rng, float amplitude)
        {
            var x = new Operand(lay, b, h, t, hs);
            foreach ((int bi, int hi, int ti, int d) in x.Indices())
                x.Data[x.Index(bi, hi, ti, d)] = amplitude * (2 * rng.NextSingle() - 1);
            return x;
        }

        public Operand EmptyLike(Lay lay) => new(lay, _b, _h, _t, _hs);

        public ArrayView<float> View(MemoryBuffer1D<float, Stride1D.Dense> buffer) => ((ArrayView<float>)buffer.View).SubView(_offset);

        public float* Ptr => (float*)Unsafe.AsPointer(ref MemoryMarshal.GetArrayDataReference(Data)) + _offset;
        public long Count => (long)_b * _h * _t * _hs;
        public long Index(int b, int h, int t, int d) => _offset + b * Layout.StrideB + h * Layout.StrideH + t * Layout.StrideT + d;
        public float At(int b, int h, int t, int d) => Data[Index(b, h, t, d)];

        public IEnumerable<(int, int, int, int)> Indices()
        {
            for (int b = 0; b < _b; b++)
                for (int h = 0; h < _h; h++)
                    for (int t = 0; t < _t; t++)
                        for (int d = 0; d < _hs; d++)
                            yield return (b, h, t, d);
        }

        public long FirstWrittenGap()
        {
            if (_lay != Lay.Fused) return -1;
            var inside = new bool[Data.Length];
            foreach ((int b, int h, int t, int d) in Indices()) inside[Index(b, h, t, d)] = true;
            for (long i = 0; i < Data.Length; i++)
                if (!inside[i] && !float.IsNaN(Data[i])) return i;
            return -1;
        }
    }
}
