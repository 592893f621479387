using System.Diagnostics;
using LLaDA.Autograd;
using LLaDA.Diffusion.Training;
using LLaDA.Tensors;

namespace LLaDA.Diffusion.Distributed;

/// <summary>Data-parallel settings: gradient bucket size and how often the ranks compare checksums of their state.</summary>
public sealed record DataParallelConfig
{
    /// <summary>Gradients are summed over ranks in buckets of about this many bytes, each started as soon as its gradients are final.</summary>
    public int BucketBytes { get; init; } = 1 << 20;

    /// <summary>Every this many steps (and at the start) every rank checksums its parameters and AdamW moments; 0 disables.</summary>
    public int ChecksumEvery { get; init; } = 10;
}

/// <summary>The ranks' parameters or optimizer state differ: they no longer compute the same model.</summary>
public sealed class ReplicaMismatchException(string message) : Exception(message);

/// <summary>Time spent summing gradients over ranks, for the throughput line.</summary>
/// <param name="CommSeconds">From the first bucket's start to the last bucket's completion, summed over steps.</param>
/// <param name="ExposedSeconds">Of that, time the rank waited after its backward had finished (not hidden behind compute).</param>
public readonly record struct ReduceStats(int Steps, long Bytes, double CommSeconds, double ExposedSeconds)
{
    /// <summary>Fraction of the reduction time that ran while the backward pass was still computing.</summary>
    public double Overlapped => CommSeconds <= 0 ? 0 : Math.Clamp(1 - ExposedSeconds / CommSeconds, 0, 1);
}

/// <summary>
/// <see cref="IDataParallel"/> over MPI: gradients are summed in buckets with MPI_Iallreduce, each bucket started by the
/// tape's hook once all its parameters have their final gradient for the step, so communication overlaps the rest of
/// the backward pass; the state checksum runs every <see cref="DataParallelConfig.ChecksumEvery"/> steps.
/// </summary>
/// <remarks>
/// Buckets hold parameters in reverse registration order (the order backward finishes them: head first, embedding
/// last). Each bucket is a pinned float buffer: gradients are copied in, summed in place, and copied back. Open MPI
/// advances non-blocking collectives only inside MPI calls, so every hook call also tests the buckets in flight.
/// </remarks>
public sealed unsafe class DataParallel : IDataParallel
{
    private sealed class Bucket
    {
        public required List<Variable> Params;
        public required float[] Buffer;
        public int Pending;
        public nint Request;
        public bool Started, Done;
    }

    private readonly DataParallelConfig _config;
    private readonly List<Bucket> _buckets = new();
    private readonly Dictionary<Variable, Bucket> _bucketOf = new(ReferenceEqualityComparer.Instance);
    private readonly Stopwatch _clock = Stopwatch.StartNew();
    private double _firstStart = -1, _lastDone;
    private ReduceStats _stats;

    /// <param name="parameters">The model's parameters in registration order (the same on every rank).</param>
    public DataParallel(IReadOnlyList<Variable> parameters, DataParallelConfig? config = null)
    {
        if (!Mpi.Initialized) throw new InvalidOperationException("DataParallel: call Mpi.Init() first");
        _config = config ?? new DataParallelConfig();
        Rank = Mpi.Rank;
        Size = Mpi.Size;
        int cap = Math.Max(1, _config.BucketBytes / sizeof(float));
        Bucket? open = null;
        int openCount = 0;
        for (int i = parameters.Count - 1; i >= 0; i--)
        {
            var p = parameters[i];
            if (open is null || (openCount > 0 && openCount + p.Data.Numel > cap))
            {
                if (open is not null) Close(open, openCount);
                open = new Bucket { Params = new(), Buffer = [] };
                openCount = 0;
            }
            open.Params.Add(p);
            _bucketOf[p] = open;
            openCount += checked((int)p.Data.Numel);
        }
        if (open is not null) Close(open, openCount);

        void Close(Bucket b, int count)
        {
            b.Buffer = GC.AllocateArray<float>(count, pinned: true);
            _buckets.Add(b);
        }
    }

    public int Rank { get; }
    public int Size { get; }
    public int BucketCount => _buckets.Count;
    public ReduceStats Stats => _stats;

    public Action<Variable>? BeginLastBackward()
    {
        foreach (var b in _buckets) (b.Pending, b.Started, b.Done) = (b.Params.Count, false, false);
        _firstStart = -1;
        return OnGradFinal;
    }

    private void OnGradFinal(Variable p)
    {
        if (_bucketOf.TryGetValue(p, out var b) && !b.Started && --b.Pending == 0) Start(b);
        Progress();
    }

    public void SumGradients(IReadOnlyList<Variable> parameters)
    {
        // Buckets whose parameters the last backward did not reach (or no hook ran: nothing was masked) start now.
        foreach (var b in _buckets)
            if (!b.Started) Start(b);
        double t0 = _clock.Elapsed.TotalSeconds;
        foreach (var b in _buckets)
            if (!b.Done)
            {
                Mpi.Wait(ref b.Request);
                b.Done = true;
                _lastDone = _clock.Elapsed.TotalSeconds;
            }
        double t1 = _clock.Elapsed.TotalSeconds;
        long bytes = 0;
        foreach (var b in _buckets)
        {
            int off = 0;
            foreach (var p in b.Params)
            {
                int n = checked((int)p.Data.Numel);
                var sum = b.Buffer.AsSpan(off, n);
                if (p.Grad is null) p.AccumulateGrad(Tensor.FromArray(sum.ToArray(), p.Data.Shape, p.Data.Backend).Detach());
                else p.Grad.Backend.Upload<float>(sum, p.Grad);
                off += n;
            }
            bytes += (long)b.Buffer.Length * sizeof(float);
        }
        _stats = new ReduceStats(_stats.Steps + 1, _stats.Bytes + bytes, _stats.CommSeconds + (_lastDone - _firstStart), _stats.ExposedSeconds + (t1 - t0));
    }

    private void Start(Bucket b)
    {
        int off = 0;
        foreach (var p in b.Params)
        {
            int n = checked((int)p.Data.Numel);
            var dst = b.Buffer.AsSpan(off, n);
            if (p.Grad is null) dst.Clear();
            else if (p.Grad.IsContiguous) p.Grad.Backend.Download<float>(p.Grad, dst);
            else p.Grad.ToArray().CopyTo(dst);
            off += n;
        }
        b.Started = true;
        if (_firstStart < 0) _firstStart = _clock.Elapsed.TotalSeconds;
        fixed (float* buf = b.Buffer) b.Request = Mpi.StartSum(buf, b.Buffer.Length); // pinned: the address stays valid
    }

    private void Progress()
    {
        foreach (var b in _buckets)
            if (b.Started && !b.Done && Mpi.Test(ref b.Request))
            {
                b.Done = true;
                _lastDone = _clock.Elapsed.TotalSeconds;
            }
    }

    public void Sum(Span<double> values) => Mpi.SumInPlace(values);

    public void Verify(int step, Func<IEnumerable<Tensor>> state)
    {
        if (_config.ChecksumEvery > 0 && step % _config.ChecksumEvery == 0) VerifyNow(step, state());
    }

    /// <summary>Compares a checksum of <paramref name="state"/> across ranks; throws <see cref="ReplicaMismatchException"/> on every rank when they differ.</summary>
    public void VerifyNow(int step, IEnumerable<Tensor> state)
    {
        var all = Mpi.Gather(Checksum(state));
        if (all.Any(h => h != all[0]))
            throw new ReplicaMismatchException($"parameters or optimizer state differ across ranks at step {step} (checksums {string.Join(", ", all.Select((h, r) => $"rank {r} {h:x16}"))}): the ranks no longer train the same model");
    }

    /// <summary>FNV-1a over the bits of every element, in order: equal only when the tensors are bit-identical (up to hash collisions).</summary>
    public static long Checksum(IEnumerable<Tensor> tensors)
    {
        ulong h = 14695981039346656037UL;
        foreach (var t in tensors)
            foreach (float x in t.ToArray())
            {
                h ^= BitConverter.SingleToUInt32Bits(x);
                h *= 1099511628211UL;
            }
        return (long)h;
    }
}
