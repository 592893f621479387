using System;
using System.Runtime.CompilerServices;

namespace LLaDA.Tensors.Cpu;

// Small helpers shared by the forward and backward tile routines: packing tiles into scratch, masks, row dot products.
// Each costs O(tile·HS) per O(tile²·HS) of tile products. Only the transposing pack ever showed in a profile: one
// element at a time it cost ~3.5 cycles per float (5 % of a training step's attention); the 16×16 register transpose
// (Simd512.TransposeBlock) brought that to ~0.4. The rest are written for clarity first.
public static unsafe partial class CpuAttention
{
    /// <summary>dst[d·ldDst + i] = scale·src[i·ldSrc + d] for i &lt; rows, d &lt; cols, and 0 in lanes rows..lanes−1 (transposes a tile into lane-major form).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void PackTransposed<TV, TS>(float* src, long ldSrc, int rows, int cols, float scale, float* dst, int ldDst, int lanes)
        where TV : struct where TS : ISimd<TV>
    {
        int w = TS.Width, fullRows = rows / w * w, fullCols = cols / w * w;
        // Whole w×w blocks in registers; the ragged right and bottom edges one element at a time.
        for (int i = 0; i < fullRows; i += w)
            for (int d = 0; d < fullCols; d += w) TS.TransposeBlock(src + i * ldSrc + d, ldSrc, dst + d * ldDst + i, ldDst, scale);
        for (int i = 0; i < rows; i++)
        {
            float* row = src + i * ldSrc;
            for (int d = i < fullRows ? fullCols : 0; d < cols; d++) dst[d * ldDst + i] = scale * row[d];
        }
        if (rows < lanes)
            for (int d = 0; d < cols; d++) new Span<float>(dst + d * ldDst + rows, lanes - rows).Clear();
    }

    /// <summary>dst[i·ldDst + d] = src[i·ldSrc + d] for i &lt; rows, d &lt; cols, and 0 for cols ≤ d &lt; ldDst (pads rows to whole vectors).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void PackRows(float* src, long ldSrc, int rows, int cols, float* dst, int ldDst)
    {
        for (int i = 0; i < rows; i++)
        {
            new ReadOnlySpan<float>(src + i * ldSrc, cols).CopyTo(new Span<float>(dst + i * ldDst, cols));
            if (cols < ldDst) new Span<float>(dst + i * ldDst + cols, ldDst - cols).Clear();
        }
    }

    /// <summary>Rows (rows × HS) of an operand as a TileGemm operand whose lanes are d: the rows in place when they are
    /// already dense whole vectors (ldSrc == hs == hsPadded), else a copy in buffer, zero-padded to hsPadded; ld receives the row stride.</summary>
    /// <remarks>Strided rows are copied even when HS is a whole number of vectors: a (B, T, NH, HS) view has rows
    /// NH·HS floats apart (2 KiB for NH 8, HS 64), so the 64 rows of a tile fall into a few L1 sets and a B operand
    /// re-read by every row block thrashes them (measured: tile product at 71 % instead of 93 % of one core's peak).
    /// The copy costs ~1/64 of the product that reads it.</remarks>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static float* RowsOperand(float* src, long ldSrc, int rows, int hs, int hsPadded, float* buffer, out long ld)
    {
        if (hs == hsPadded && ldSrc == hsPadded)
        {
            ld = ldSrc;
            return src;
        }
        PackRows(src, ldSrc, rows, hs, buffer, hsPadded);
        ld = hsPadded;
        return buffer;
    }

    /// <summary>dst[i·ldDst + d] = scale·src[i·ldSrc + d] for i &lt; rows, d &lt; cols (writes a padded scratch tile into an output that may be strided).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void ScaleRows<TV, TS>(float* src, int ldSrc, int rows, int cols, float scale, float* dst, long ldDst)
        where TV : struct where TS : ISimd<TV>
    {
        int w = TS.Width;
        TV sv = TS.Broadcast(scale);
        for (int i = 0; i < rows; i++)
        {
            float* s = src + i * ldSrc, t = dst + i * ldDst;
            int d = 0;
            for (; d + w <= cols; d += w) TS.Store(t + d, TS.Mul(TS.Load(s + d), sv));
            for (; d < cols; d++) t[d] = scale * s[d];
        }
    }

    /// <summary>dots[i] = Σ_d x[i·ldx + d]·y[i·ldy + d] for i &lt; rows, and 0 for rows ≤ i &lt; lanes (the backward's D_i = dO_i·O_i).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void RowDots<TV, TS>(float* x, long ldx, float* y, long ldy, int rows, int cols, float* dots, int lanes)
        where TV : struct where TS : ISimd<TV>
    {
        int w = TS.Width;
        for (int i = 0; i < rows; i++)
        {
            float* xi = x + i * ldx, yi = y + i * ldy;
            TV acc = default;
            int d = 0;
            for (; d + w <= cols; d += w) acc = TS.Fma(TS.Load(xi + d), TS.Load(yi + d), acc);
            float sum = TS.Sum(acc);
            for (; d < cols; d++) sum += xi[d] * yi[d];
            dots[i] = sum;
        }
        for (int i = rows; i < lanes; i++) dots[i] = 0;
    }

    /// <summary>True when at least one of the n keys is real (keyPadding[j] ≠ 0); null padding means all are.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static bool AnyKeyVisible(int* keyPadding, int n)
    {
        if (keyPadding == null) return true;
        for (int j = 0; j < n; j++) if (keyPadding[j] != 0) return true;
        return false;
    }

    /// <summary>Sets to −∞ the masked entries of a transposed score tile sᵀ (nk keys × lanes queries): whole rows of padded
    /// keys, and under a causal mask the lanes i &lt; j − causalShift of key row j (i, j tile-local).</summary>
    /// <param name="sT">Score tile, row r = key j0 + r, lane i = query i0 + i.</param>
    /// <param name="nk">Key rows in the tile.</param>
    /// <param name="lanes">Lanes per row (the query tile width).</param>
    /// <param name="keyPadding">Padding of this tile's keys (keyPadding[r] for row r), or null.</param>
    /// <param name="causal">Whether to apply the causal mask.</param>
    /// <param name="causalShift">j0 − (Tk − Tq) − i0: key row r hides query lanes i &lt; r + causalShift (query i0 + i sits
    /// at absolute position Tk − Tq + i0 + i and sees key j0 + r iff j0 + r ≤ that position).</param>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void MaskScoresTransposed<TV, TS>(float* sT, int nk, int lanes, int* keyPadding, bool causal, int causalShift)
        where TV : struct where TS : ISimd<TV>
    {
        int w = TS.Width;
        TV negInf = TS.Broadcast(float.NegativeInfinity);
        for (int r = 0; r < nk; r++)
        {
            float* row = sT + r * lanes;
            if (keyPadding != null && keyPadding[r] == 0)
            {
                new Span<float>(row, lanes).Fill(float.NegativeInfinity);
                continue;
            }
            if (!causal) continue;
            int hidden = r + causalShift;                    // lanes 0..hidden−1 are hidden
            if (hidden <= 0) continue;
            TV limit = TS.Broadcast(hidden);
            for (int c = 0; c < lanes && c < hidden; c += w)
            {
                TV lane = TS.Add(TS.LaneIndices, TS.Broadcast(c));
                TS.Store(row + c, TS.Select(TS.LessThan(lane, limit), negInf, TS.Load(row + c)));
            }
        }
    }
}
