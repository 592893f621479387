using System.Runtime.CompilerServices;

namespace LLaDA.Kernels;

// Register tiles for the GEMM and attention kernels. ILGPU 1.5.3 keeps a struct local in registers as long as its
// address does not escape (its methods are inlined), but it never unrolls loops and puts any indexed local array in
// local memory — so every per-thread accumulator block is a struct of named float fields and every loop over them is
// written out by hand. (Checked in the PTX: no .local traffic in the main loops; `ptxas -v` on the GPU reports spills.)

/// <summary>Four floats loaded or stored as one 16-byte vector (ld.v4.f32 / st.v4.f32) through ArrayView.Cast.</summary>
internal struct F4
{
    public float X, Y, Z, W;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public F4(float x, float y, float z, float w) { X = x; Y = y; Z = z; W = w; }
}

/// <summary>Eight floats: one row of a thread's 8×8 SGEMM block, or the eight B values of one k step.</summary>
internal struct Row8
{
    public float C0, C1, C2, C3, C4, C5, C6, C7;

    /// <summary>this += a · b (eight multiply-adds; ptxas contracts each mul/add pair into an FFMA).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void Fma(float a, in Row8 b)
    {
        C0 += a * b.C0; C1 += a * b.C1; C2 += a * b.C2; C3 += a * b.C3;
        C4 += a * b.C4; C5 += a * b.C5; C6 += a * b.C6; C7 += a * b.C7;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void Scale(float s)
    {
        C0 *= s; C1 *= s; C2 *= s; C3 *= s; C4 *= s; C5 *= s; C6 *= s; C7 *= s;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public readonly float Get(int j) => j switch
    {
        0 => C0, 1 => C1, 2 => C2, 3 => C3, 4 => C4, 5 => C5, 6 => C6, _ => C7,
    };
}

/// <summary>Four floats: one row of a thread's 4×4 attention score block.</summary>
internal struct Row4
{
    public float C0, C1, C2, C3;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void Fma(float a, in Row4 b)
    {
        C0 += a * b.C0; C1 += a * b.C1; C2 += a * b.C2; C3 += a * b.C3;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public readonly float Get(int j) => j switch { 0 => C0, 1 => C1, 2 => C2, _ => C3 };

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void Set(int j, float v)
    {
        if (j == 0) C0 = v;
        else if (j == 1) C1 = v;
        else if (j == 2) C2 = v;
        else C3 = v;
    }
}

/// <summary>A thread's 4×4 block of a score tile (rows ty + 16·i, columns tx + 16·j).</summary>
internal struct Block4x4
{
    public Row4 R0, R1, R2, R3;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void Fma(in Row4 a, in Row4 b)
    {
        R0.Fma(a.C0, b); R1.Fma(a.C1, b); R2.Fma(a.C2, b); R3.Fma(a.C3, b);
    }
}

/// <summary>A thread's 4×8 block of an output tile (rows ty + 16·i, columns tx + 16·c).</summary>
internal struct Block4x8
{
    public Row8 R0, R1, R2, R3;

    /// <summary>Columns 0–3 only (the head-dim half 0..63): this[i][c] += a[i]·b[c] for c &lt; 4.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void FmaLow(in Row4 a, in Row8 b)
    {
        R0.C0 += a.C0 * b.C0; R0.C1 += a.C0 * b.C1; R0.C2 += a.C0 * b.C2; R0.C3 += a.C0 * b.C3;
        R1.C0 += a.C1 * b.C0; R1.C1 += a.C1 * b.C1; R1.C2 += a.C1 * b.C2; R1.C3 += a.C1 * b.C3;
        R2.C0 += a.C2 * b.C0; R2.C1 += a.C2 * b.C1; R2.C2 += a.C2 * b.C2; R2.C3 += a.C2 * b.C3;
        R3.C0 += a.C3 * b.C0; R3.C1 += a.C3 * b.C1; R3.C2 += a.C3 * b.C2; R3.C3 += a.C3 * b.C3;
    }

    /// <summary>All eight columns: this[i][c] += a[i]·b[c].</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void Fma(in Row4 a, in Row8 b)
    {
        R0.Fma(a.C0, b); R1.Fma(a.C1, b); R2.Fma(a.C2, b); R3.Fma(a.C3, b);
    }
}
