namespace LLaDA.Diffusion.Sampling;

/// <summary>How many tokens each step commits (LLaDA generate.py get_num_transfer_tokens).</summary>
public static class TransferSchedule
{
    /// <summary>M masks over S steps: base = M div S each, the remainder M mod S to the earliest steps (M 32, S 5 → 7 7 6 6 6).</summary>
    public static int[] Quota(int masks, int steps)
    {
        var q = new int[steps];
        int b = masks / steps, rem = masks % steps;
        for (int s = 0; s < steps; s++) q[s] = b + (s < rem ? 1 : 0);
        return q;
    }
}
