using LLaDA.Autograd;
using LLaDA.Tensors;

namespace LLaDA.Diffusion.Training;

/// <summary>How a <see cref="Trainer"/> shares each step with the other ranks of a data-parallel job.</summary>
/// <remarks>
/// A step is GradAccum·Size global micro-batches of BatchSize rows; rank r takes micro-batch k = m·Size + r at its m-th
/// micro step. Data rows and noise are functions of (seed, step, k), so the job computes what one process computes with
/// GradAccum·Size micro-batches, whatever the number of ranks.
/// </remarks>
public interface IDataParallel
{
    int Rank { get; }
    int Size { get; }

    /// <summary>Called before the rank's last backward of a step; returns the tape's hook for parameter gradients that became final.</summary>
    Action<Variable>? BeginLastBackward();

    /// <summary>Replaces every parameter's gradient by its sum over the ranks (waiting for the reductions in flight).</summary>
    void SumGradients(IReadOnlyList<Variable> parameters);

    /// <summary>Σ over ranks of each value.</summary>
    void Sum(Span<double> values);

    /// <summary>Checks that every rank holds the same parameters and optimizer state after <paramref name="step"/> steps (every K steps; throws on a mismatch).</summary>
    void Verify(int step, Func<IEnumerable<Tensor>> state);
}
