using System.Diagnostics;
using LLaDA.Autograd;
using LLaDA.Diffusion.Data;
using LLaDA.Nn;
using LLaDA.Nn.Optim;
using LLaDA.Tensors;

namespace LLaDA.Diffusion.Training;

/// <summary>What one optimizer step did.</summary>
/// <param name="LossVariance">Sample variance across the batch's rows of each row's loss estimate (the row's share of the
/// loss × rows, so their mean is the loss); NaN for the autoregressive objective or a single row.</param>
public sealed record StepReport(int Step, double Loss, double GradNorm, float Lr, int Tokens, int MaskedTokens, double Seconds, double LossVariance = double.NaN);

/// <summary>The loss became NaN or infinite; the last good checkpoint is kept.</summary>
public sealed class TrainingDivergedException(int step, double loss) : Exception($"loss is {loss} at step {step}: training diverged (try a lower learning rate); the last good checkpoint was kept")
{
    public int Step { get; } = step;
}

/// <summary>Runs optimizer steps: noise a batch (Philox, keyed by step), forward, backward, clip, AdamW under a schedule.</summary>
/// <remarks>
/// Everything a step uses is derived from (seed, step, data position), so a run resumed from a checkpoint continues
/// bit-exactly on the CPU backend. Micro-batch m of step s uses noise counter s·GradAccum + m; as rank r of a
/// data-parallel job of N ranks it is global micro-batch k = m·N + r with counter s·GradAccum·N + k (see <see cref="IDataParallel"/>).
/// </remarks>
public sealed class Trainer : IDisposable
{
    private readonly BatchLoader _loader;
    private readonly SequenceDataset? _heldOut;
    private readonly List<Variable> _params;
    private readonly ILrSchedule _schedule;

    public Trainer(MaskPredictor model, TrainConfig config, SequenceDataset train, SequenceDataset? heldOut, int startStep = 0, DataPosition position = default)
    {
        Model = model;
        Config = config;
        if (config.Objective == Objective.Autoregressive && !model.Config.Causal)
            throw new ArgumentException("the autoregressive objective needs a causal model (config.causal = true)");
        if (config.Objective != Objective.Autoregressive && model.Config.Causal)
            throw new ArgumentException("the masked-diffusion objectives need a bidirectional model (config.causal = false)");
        TimeSampler.CheckMinT(config.Noise.MinT);
        _loader = new BatchLoader(train, config.BatchSize, config.Seed, position);
        _heldOut = heldOut;
        _params = model.Parameters().ToList();
        Optimizer = new AdamW(model.NamedParameters(), new AdamWConfig { Beta1 = config.Beta1, Beta2 = config.Beta2, WeightDecay = config.WeightDecay });
        _schedule = config.Schedule switch
        {
            LrSchedule.Wsd => new WsdSchedule(config.Lr, config.Steps, config.Warmup, config.DecayFraction, config.MinLr),
            LrSchedule.Cosine => new CosineSchedule(config.Lr, config.Steps, config.Warmup, config.MinLr),
            LrSchedule.Constant => new ConstantSchedule(config.Lr, config.Warmup),
            _ => throw new ArgumentOutOfRangeException(nameof(config), config.Schedule, "unknown schedule"),
        };
        if (config.EmaDecay != 0) Ema = new Ema(model.NamedParameters(), config.EmaDecay);
        StepIndex = startStep;
    }

    /// <summary>The moving average of the weights, when <see cref="TrainConfig.EmaDecay"/> is set.</summary>
    public Ema? Ema { get; }

    public MaskPredictor Model { get; }
    public TrainConfig Config { get; }
    public AdamW Optimizer { get; }

    /// <summary>The data-parallel job this trainer is one rank of (set before the first step), or null for one process.</summary>
    public IDataParallel? Parallel { get; set; }

    /// <summary>Optimizer steps taken so far (the next step's index).</summary>
    public int StepIndex { get; private set; }

    public DataPosition DataPosition => _loader.Position;

    /// <summary>The learning rate the next step will use.</summary>
    public float CurrentLr => _schedule.At(StepIndex);

    /// <summary>One optimizer step over GradAccum micro-batches.</summary>
    public StepReport Step()
    {
        var sw = Stopwatch.StartNew();
        int step = StepIndex;
        double lossSum = 0;
        int tokens = 0, masked = 0;
        var rowLosses = new List<double>();
        // Data parallel: rank r's m-th micro-batch is global micro-batch k = m·ranks + r; one process is rank 0 of 1.
        int ranks = Parallel?.Size ?? 1, rank = Parallel?.Rank ?? 0, micros = Config.GradAccum * ranks;
        for (int micro = 0; micro < Config.GradAccum; micro++)
        {
            int k = micro * ranks + rank;
            _loader.Skip((micro == 0 ? rank : ranks - 1) * Config.BatchSize);
            var ids = _loader.Next(out var prompts);
            ulong counter = (ulong)step * (ulong)micros + (ulong)k;
            using var scope = new TensorScope();
            using var tape = new Tape();
            var (loss, n, m) = Loss(ids, prompts, counter, Config.Seed, rowLosses);
            tokens += n;
            masked += m;
            if (loss is null) continue;
            var scaled = micros == 1 ? loss : F.Scale(loss, 1f / micros);
            double value = loss.Data.Item();
            // Ranks must stay in step: with several, a non-finite loss reaches every rank through the summed loss below.
            if (!double.IsFinite(value) && Parallel is null) throw new TrainingDivergedException(step, value);
            lossSum += value / micros;
            tape.Backward(scaled, gradFinal: micro == Config.GradAccum - 1 ? Parallel?.BeginLastBackward() : null);
            // Freeing what the tape saved and the step's activations (both disposals are idempotent; the usings are no-ops after).
            using (OpProfiler.Time("FreeActivations"))
            {
                tape.Dispose();
                scope.Dispose();
            }
        }
        if (Parallel is not null)
        {
            _loader.Skip((ranks - 1 - rank) * Config.BatchSize);
            Parallel.SumGradients(_params);
            Span<double> totals = [lossSum, tokens, masked];
            Parallel.Sum(totals);
            (lossSum, tokens, masked) = (totals[0], (int)totals[1], (int)totals[2]);
            if (!double.IsFinite(lossSum)) throw new TrainingDivergedException(step, lossSum);
        }
        double norm;
        using (OpProfiler.Time("GradClip")) norm = GradClip.ClipByGlobalNorm(_params, Config.GradClip);
        if (!double.IsFinite(norm)) throw new TrainingDivergedException(step, norm);
        float lr = _schedule.At(step);
        using (OpProfiler.Time("AdamW")) Optimizer.Update(lr);
        Ema?.Update();
        using (OpProfiler.Time("ZeroGrad")) Model.ZeroGrad();
        StepIndex++;
        Parallel?.Verify(StepIndex, ReplicatedState);
        return new StepReport(step, lossSum, norm, lr, tokens, masked, sw.Elapsed.TotalSeconds, Variance(rowLosses));
    }

    /// <summary>Sample variance (n − 1) of the values; NaN for fewer than two.</summary>
    internal static double Variance(IReadOnlyList<double> x)
    {
        if (x.Count < 2) return double.NaN;
        double mean = 0, ss = 0;
        foreach (double v in x) mean += v;
        mean /= x.Count;
        foreach (double v in x) ss += (v - mean) * (v - mean);
        return ss / (x.Count - 1);
    }

    /// <summary>Adds each row's loss estimate B·Σ_(masked tokens of the row) weighted CE to <paramref name="rows"/> (rows with nothing masked give 0).</summary>
    private static void RowLosses(MaskedBatch batch, Variable perToken, List<double> rows)
    {
        var w = perToken.Data.ToArray();              // (Nm)
        var pos = batch.MaskedRows.ToIntArray();      // (Nm) flat b·L + j
        var sum = new double[batch.Batch];
        for (int k = 0; k < w.Length; k++) sum[pos[k] / batch.Length] += w[k];
        foreach (double s in sum) rows.Add(s * batch.Batch);
    }

    /// <summary>The masked-diffusion loss of a noised batch, recording the rows' loss estimates.</summary>
    private Variable? MaskedLoss(MaskedBatch batch, List<double>? rows)
    {
        var perToken = Losses.MaskedPerToken(Model, batch);
        if (perToken is null)
        {
            if (rows is not null) for (int i = 0; i < batch.Batch; i++) rows.Add(0);
            return null;
        }
        if (rows is not null)
            using (OpProfiler.Time("RowLosses")) RowLosses(batch, perToken, rows);
        return F.Sum(perToken);
    }

    /// <summary>What must be identical on every data-parallel rank: parameters and both AdamW moments.</summary>
    public IEnumerable<Tensor> ReplicatedState()
    {
        foreach (var p in _params) yield return p.Data;
        foreach (var (_, m, v) in Optimizer.Moments())
        {
            yield return m;
            yield return v;
        }
    }

    /// <summary>The objective on one batch: (loss or null when nothing was masked, tokens, masked tokens).</summary>
    private (Variable? Loss, int Tokens, int Masked) Loss(int[] ids, int[] prompts, ulong counter, ulong seed, List<double>? rows = null)
    {
        int b = Config.BatchSize, l = _loader.Length;
        var cfg = Model.Config;
        switch (Config.Objective)
        {
            case Objective.Autoregressive:
            {
                var valid = ValidLengths(ids, b, l, cfg.EosTokenId);
                return (Losses.NextToken(Model, ids, b, l, valid, prompts), b * l, 0);
            }
            case Objective.Sft:
            {
                // The batch's tensors belong to the step's TensorScope: backward still needs targets and weights.
                MaskedBatch batch;
                using (OpProfiler.Time("Noising")) batch = ForwardProcess.Sft(ids, b, l, prompts, cfg.MaskTokenId, seed, counter, Config.Noise, Model.Backend);
                return (MaskedLoss(batch, rows), batch.Batch * batch.Length, batch.MaskedCount);
            }
            default:
            {
                MaskedBatch batch;
                using (OpProfiler.Time("Noising")) batch = ForwardProcess.Pretrain(ids, b, l, cfg.MaskTokenId, seed, counter, Config.Noise, Model.Backend);
                return (MaskedLoss(batch, rows), batch.Batch * batch.Length, batch.MaskedCount);
            }
        }
    }

    /// <summary>Rows end at their first EOS (inclusive); the padding after it is not trained on by the AR baseline.</summary>
    internal static int[] ValidLengths(int[] ids, int b, int l, int eos)
    {
        var v = new int[b];
        for (int i = 0; i < b; i++)
        {
            v[i] = l;
            for (int j = 0; j < l; j++)
                if (ids[i * l + j] == eos)
                {
                    v[i] = j + 1;
                    break;
                }
        }
        return v;
    }

    /// <summary>Held-out loss with fixed noise (the same masks at every evaluation), averaged over up to EvalBatches batches.</summary>
    public double Evaluate()
    {
        if (_heldOut is null) return double.NaN;
        var loader = new BatchLoader(_heldOut, Math.Min(Config.BatchSize, _heldOut.Count), Config.Seed ^ 0xE7A1);
        double sum = 0;
        int n = 0;
        for (int i = 0; i < Config.EvalBatches; i++)
        {
            var ids = loader.Next(out var prompts);
            using var scope = new TensorScope();
            int b = loader.Batch, l = loader.Length;
            Variable? loss;
            if (Config.Objective == Objective.Autoregressive)
                loss = Losses.NextToken(Model, ids, b, l, ValidLengths(ids, b, l, Model.Config.EosTokenId), prompts);
            else
            {
                // No random cut during evaluation: every batch is scored at full length.
                // Plain uniform t and no floor whatever the training used, so held-out losses of runs compare.
                var noise = Config.Noise with { Time = TimeSampling.Uniform, MinT = 0 };
                var batch = Config.Objective == Objective.Sft
                    ? ForwardProcess.Sft(ids, b, l, prompts, Model.Config.MaskTokenId, Config.Seed ^ 0xE7A1, (ulong)i, noise, Model.Backend)
                    : ForwardProcess.Pretrain(ids, b, l, Model.Config.MaskTokenId, Config.Seed ^ 0xE7A1, (ulong)i, noise with { RandomLengthProb = 0 }, Model.Backend);
                loss = Losses.Masked(Model, batch);
            }
            if (loss is null) continue;
            sum += loss.Data.Item();
            n++;
        }
        return n == 0 ? double.NaN : sum / n;
    }

    public void Dispose()
    {
        Optimizer.Dispose();
        Ema?.Dispose();
    }
}
