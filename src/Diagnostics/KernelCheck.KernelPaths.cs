using ILGPU;
using ILGPU.Runtime;
using LLaDA.Kernels;
using LLaDA.Tensors;
using LLaDA.Tensors.Cpu;

namespace LLaDA.Diagnostics;

// The "kernel.*" checks: every MatMulKernels path called directly (naive, tiled, the dispatcher, the bf16/f16 tensor-core
// GEMM — only the dispatcher is reachable through IBackend), each held to the exact product within GemmErrorModel's
// per-element bound; and attention at the layouts a model produces (q time-major, k/v heads-major), grouped kv heads,
// Tq < Tk, key padding and head sizes up to AttentionShape.MaxHeadSize, against the CPU backend. `llada kernels check`
// runs these; `llada check` and the tests run them with every other check.
public static partial class KernelCheck
{
    /// <summary>Thrown by a check whose kernel path this accelerator cannot run; reported as SKIP.</summary>
    private sealed class SkipCheck(string why) : Exception(why);

    /// <summary>NN, NT, TN, TT (a property: the Cases table in KernelCheck.cs is built before this file's static fields).</summary>
    private static (bool TA, bool TB)[] AllTransposes => [(false, false), (false, true), (true, false), (true, true)];

    /// <summary>GEMM shapes are (M, N, K); attention shapes (B, NH, NKV, Tq, Tk, HS).</summary>
    private static Case[] KernelPathCases() =>
    [
        GemmPath("naive", S([9, 13, 11]), S([300, 200, 500]), [(true, false)]),
        GemmPath("tiled", S([37, 41, 45]), S([1000, 1100, 1200]), AllTransposes),
        GemmPath("bf16", S([37, 41, 45]), S([1000, 1100, 1200]), AllTransposes),
        GemmPath("f16", S([37, 41, 45]), S([1000, 1100, 1200]), [(false, true)]),
        // The mixed GEMM (f32 activations × 16-bit weights): the tensor-core path rounds the activations to bfloat16 per
        // tile (its reference rounds them too), the generic path keeps them f32.
        GemmPath("mixed-bf16-tc", S([37, 41, 45]), S([1000, 1100, 1200]), AllTransposes),
        GemmPath("mixed-bf16", S([37, 41, 45]), S([1000, 1100, 1200]), AllTransposes),
        GemmPath("mixed-f16", S([37, 41, 45]), S([300, 200, 500]), [(false, true), (false, false)]),
        GemmPath("dispatch", S([70, 65, 66]), S([2049, 257, 129]), [(false, false)]),
        new("kernel.attention", S([2, 4, 2, 20, 20, 16], [2, 4, 2, 20, 20, 130]),
            S([2, 4, 2, 300, 300, 64], [2, 4, 2, 300, 300, 128], [2, 4, 2, 300, 300, 256], [2, 4, 2, 300, 300, 80]),
            (b, s) => AttentionPath(b, s, AttnMask.None, padded: false), 1e-4, 1e-4),
        new("kernel.attention-causal-padded", S([2, 4, 2, 20, 37, 16], [2, 4, 2, 20, 37, 130]),
            S([2, 4, 2, 300, 317, 64], [2, 4, 2, 300, 317, 128], [2, 4, 2, 300, 317, 256], [2, 4, 2, 300, 317, 80]),
            (b, s) => AttentionPath(b, s, AttnMask.Causal, padded: true), 1e-4, 1e-4),
    ];

    // ---------------------------------------------------------------- GEMM paths

    /// <summary>One product C = α·op(A)·op(B) + β·C0 with its seeded host inputs (16-bit paths: rounded, with their bit patterns).</summary>
    private sealed record GemmInput(int M, int N, int K, bool TA, bool TB, float Alpha, float Beta, float[] A, float[] B, ushort[] A16, ushort[] B16, float[] C0)
    {
        public int Lda => TA ? M : K;
        public int Ldb => TB ? K : N;
    }

    private static GemmInput MakeGemm(string path, int[] s, (bool TA, bool TB) t, int index)
    {
        int m = s[0], n = s[1], k = s[2];
        var rng = new System.Random(1234 + 31 * index + m);
        float[] a = HostData.RandomFloats(rng, m * k), b = HostData.RandomFloats(rng, k * n);
        bool half = path is "bf16" or "f16", mixed = path.StartsWith("mixed-", StringComparison.Ordinal);
        bool f16 = path is "f16" or "mixed-f16";
        ushort[] a16 = half ? HostData.Round16(a, f16) : [], b16 = half || mixed ? HostData.Round16(b, f16) : [];
        float[] c0 = HostData.RandomFloats(rng, m * n);
        return new GemmInput(m, n, k, t.TA, t.TB, 1.25f, path == "naive" ? 0.5f : 0f, a, b, a16, b16, c0);
    }

    private static Case GemmPath(string path, int[][] tiny, int[][] moderate, (bool TA, bool TB)[] transposes) =>
        new("kernel.gemm-" + path, tiny, moderate, (b, s) => RunGemm(b, path, s, transposes), 0, 0, s =>
        {
            var exact = new (double[], double[])[transposes.Length];
            for (int i = 0; i < transposes.Length; i++)
            {
                var x = MakeGemm(path, s, transposes[i], i);
                bool tc = x.A16.Length > 0 || path == "mixed-bf16-tc";
                // The tensor-core mixed path multiplies the activations rounded to bfloat16: so does its reference.
                float[] a = path == "mixed-bf16-tc" ? (float[])x.A.Clone() : x.A;
                if (path == "mixed-bf16-tc") HostData.Round16(a, false);
                exact[i] = GemmErrorModel.Reference(1, x.M, x.N, x.K, x.Alpha, a, 0, x.Lda, 0, x.TA, x.B, 0, x.Ldb, 0, x.TB, x.Beta, x.C0, 0, x.N, 0,
                    tc ? GemmErrorModel.TruncatedRoundoff : GemmErrorModel.Roundoff);
            }
            return exact;
        });

    /// <summary>C of every transpose combination, computed by the named MatMulKernels entry point on the device.</summary>
    private static Tensor[] RunGemm(IBackend backend, string path, int[] s, (bool TA, bool TB)[] transposes)
    {
        if (backend is not IlgpuBackend g) throw new ArgumentException($"kernel.gemm-{path} calls ILGPU kernels: {backend.Name} is not an ILGPU device");
        var k = g.Kernels;
        if (path is "tiled" or "mixed-bf16-tc" && !MatMulKernels.CanRunTiles(k))
            throw new SkipCheck($"the {path} GEMM needs 256-thread groups, this accelerator has {k.Accelerator.MaxNumThreadsPerGroup}");
        var res = new Tensor[transposes.Length];
        for (int i = 0; i < transposes.Length; i++)
        {
            var x = MakeGemm(path, s, transposes[i], i);
            using var dc = k.Accelerator.Allocate1D(x.C0);
            if (path.StartsWith("mixed-", StringComparison.Ordinal))
            {
                using var da = k.Accelerator.Allocate1D(x.A);
                using var db = k.Accelerator.Allocate1D(x.B16);
                MatMulKernels.GemmMixed(k, path == "mixed-f16", 1, x.M, x.N, x.K, x.Alpha, da.View, x.Lda, 0, x.TA, db.View, x.Ldb, 0, x.TB, x.Beta, dc.View, x.N, 0,
                    path == "mixed-bf16-tc" ? MixedGemmPath.TensorCore : MixedGemmPath.Generic);
            }
            else if (x.A16.Length > 0)
            {
                using var da = k.Accelerator.Allocate1D(x.A16);
                using var db = k.Accelerator.Allocate1D(x.B16);
                if (path == "f16") MatMulKernels.GemmF16(k, 1, x.M, x.N, x.K, x.Alpha, da.View, x.Lda, 0, x.TA, db.View, x.Ldb, 0, x.TB, x.Beta, dc.View, x.N, 0);
                else MatMulKernels.GemmBf16(k, 1, x.M, x.N, x.K, x.Alpha, da.View, x.Lda, 0, x.TA, db.View, x.Ldb, 0, x.TB, x.Beta, dc.View, x.N, 0);
            }
            else
            {
                using var da = k.Accelerator.Allocate1D(x.A);
                using var db = k.Accelerator.Allocate1D(x.B);
                switch (path)
                {
                    case "naive": MatMulKernels.SgemmNaive(k, 1, x.M, x.N, x.K, x.Alpha, da.View, x.Lda, 0, x.TA, db.View, x.Ldb, 0, x.TB, x.Beta, dc.View, x.N, 0); break;
                    case "tiled": MatMulKernels.SgemmTiled(k, 1, x.M, x.N, x.K, x.Alpha, da.View, x.Lda, 0, x.TA, db.View, x.Ldb, 0, x.TB, x.Beta, dc.View, x.N, 0); break;
                    default: MatMulKernels.Sgemm(k, 1, x.M, x.N, x.K, x.Alpha, da.View, x.Lda, 0, x.TA, db.View, x.Ldb, 0, x.TB, x.Beta, dc.View, x.N, 0); break;
                }
            }
            k.Synchronize();
            res[i] = Tensor.FromSpan<float>(dc.GetAsArray1D(), [x.M, x.N], DType.F32, CpuBackend.Default);
        }
        return res;
    }

    // ---------------------------------------------------------------- attention

    /// <summary>o, lse, dq, dk, dv with q (B, Tq, NH, HS) storage seen heads-major (what a projection produces), k/v/dO
    /// heads-major; with <paramref name="padded"/>, every batch entry but the first has its first Tk/4 keys padded.</summary>
    private static Tensor[] AttentionPath(IBackend b, int[] s, AttnMask mask, bool padded)
    {
        int bt = s[0], nh = s[1], nkv = s[2], tq = s[3], tk = s[4], hs = s[5];
        var q = Uniform(b, 70, [bt, tq, nh, hs]).Transpose(1, 2);
        var k = Uniform(b, 71, [bt, nkv, tk, hs]);
        var v = Uniform(b, 72, [bt, nkv, tk, hs], -1f, 1f);
        var dO = Uniform(b, 73, [bt, nh, tq, hs], -1f, 1f);
        Tensor? pad = null;
        if (padded)
        {
            var p = new int[bt * tk];
            for (int i = 0; i < bt; i++)
                for (int j = 0; j < tk; j++)
                    p[i * tk + j] = i == 0 || j >= tk / 4 ? 1 : 0;
            pad = Tensor.FromSpan<int>(p, [bt, tk], DType.I32, b);
        }
        var (o, lse) = Tensor.Attention(q, k, v, mask, pad);
        var (dq, dk, dv) = Tensor.AttentionBackward(q, k, v, o, lse, dO, mask, pad);
        return [o, lse, dq, dk, dv];
    }
}
