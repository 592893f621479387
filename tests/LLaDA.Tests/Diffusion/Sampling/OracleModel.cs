using LLaDA.Diffusion.Sampling;
using LLaDA.Tensors;
using LLaDA.Tensors.Cpu;

namespace LLaDA.Tests.Diffusion.Sampling;

/// <summary>A fake predictor with known logits: at every position it favours target[pos] by a margin that depends on the position, so its confidence order is known.</summary>
public sealed class OracleModel(int vocab, Func<int, int> target, Func<int, double> margin) : ILogitsModel
{
    public int VocabSize => vocab;
    public IBackend Backend => CpuBackend.Default;
    public int Calls { get; private set; }
    public List<int[]> Inputs { get; } = new();

    public Tensor Logits(Tensor ids, Tensor? keyPadding)
    {
        Calls++;
        int b = ids.Dim(0), l = ids.Dim(1);
        Inputs.Add(ids.ToIntArray());
        var logits = new float[b * l * vocab];
        for (int i = 0; i < b; i++)
            for (int j = 0; j < l; j++)
                logits[(i * l + j) * vocab + target(j)] = (float)margin(j);
        return Tensor.FromArray(logits, [b, l, vocab]);
    }
}
