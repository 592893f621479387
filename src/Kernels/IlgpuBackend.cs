using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using ILGPU;
using ILGPU.Runtime;
using ILGPU.Runtime.CPU;
using ILGPU.Runtime.Cuda;
using ILGPU.Runtime.OpenCL;
using LLaDA.Tensors;
using LLaDA.Tensors.Cpu;

namespace LLaDA.Kernels;

/// <summary><see cref="IBackend"/> on any ILGPU accelerator (CUDA, OpenCL, or ILGPU's CPU accelerator for tests): pooled device memory, cached kernels, one stream.</summary>
/// <remarks>
/// <para>Every primitive is a kernel launch on <see cref="KernelContext.Stream"/>; nothing goes through the host except
/// <see cref="Upload{T}"/>/<see cref="Download{T}"/> and the index checks below. Launches are asynchronous; Download
/// synchronises.</para>
/// <para><b>Index errors.</b> CpuBackend validates ids before touching memory. Kernels cannot throw, so IndexSelect,
/// IndexAdd, Gather, ScatterAdd and CrossEntropy skip out-of-range ids and record the first one in two device ints per op.
/// The next Download or Synchronize reads them and throws the same TensorException as the CPU (a training step downloads
/// its loss, so a bad id surfaces in the step that used it) — no host round trip inside an op. With
/// <see cref="EagerIndexChecks"/> (default on the CPU accelerator) the check runs right after the launch instead.</para>
/// </remarks>
public sealed partial class IlgpuBackend : IBackend
{
    private readonly IlgpuMemoryPool _pool;
    private readonly IlgpuStorage _errors; // two ints per index op, see ErrorSlots
    private bool _errorsPending;
    private bool _disposed;

    /// <summary>The native-library resolver must be in place before the first ILGPU Context touches a driver.</summary>
    static IlgpuBackend() => NativeLibraries.Install();

    private IlgpuBackend(Context context, Accelerator accelerator, string name)
    {
        Kernels = new KernelContext(context, accelerator);
        Name = name;
        _pool = new IlgpuMemoryPool(accelerator);
        _errors = new IlgpuStorage(this, _pool, 2 * (int)IndexOp.Count, DType.I32);
        _errors.Bytes.MemSetToZero(Kernels.Stream);
        EagerIndexChecks = accelerator.AcceleratorType == AcceleratorType.CPU;
    }

    /// <summary>"ilgpu-cuda", "ilgpu-cpu" or "ilgpu-opencl".</summary>
    public string Name { get; }

    /// <summary>The accelerator, its stream and the kernel cache (what the kernel families' launchers take).</summary>
    public KernelContext Kernels { get; }

    public Accelerator Accelerator => Kernels.Accelerator;

    /// <summary>The device memory pool behind every tensor of this backend.</summary>
    public IlgpuMemoryPool Pool => _pool;

    /// <summary>When true, index kernels are checked (one small read-back) right after launch; otherwise at the next Download or Synchronize.</summary>
    /// <remarks>On by default only on the CPU accelerator, whose launches are synchronous anyway; on a GPU a read-back would stall the queue.</remarks>
    public bool EagerIndexChecks { get; set; }

    // ---------------------------------------------------------------- creation

    /// <summary>The first CUDA device; throws when there is no CUDA driver or device.</summary>
    public static IlgpuBackend CreateCuda(int device = 0)
    {
        var context = Context.Create(b => b.Cuda().EnableAlgorithms());
        try
        {
            var devices = context.GetCudaDevices();
            if (devices.Count == 0)
                throw new InvalidOperationException("no CUDA device found (is the NVIDIA driver installed and libcuda.so.1 on the loader path?)");
            if (device < 0 || device >= devices.Count)
                throw new InvalidOperationException($"CUDA device {device} does not exist ({devices.Count} found)");
            var acc = context.CreateCudaAccelerator(device);
            return new IlgpuBackend(context, acc, "ilgpu-cuda");
        }
        catch
        {
            context.Dispose();
            throw;
        }
    }

    /// <summary>ILGPU's CPU accelerator simulating an NVIDIA GPU (warp 32, 1024 threads per group): slow, but runs every kernel without a GPU.</summary>
    public static IlgpuBackend CreateCpu() => CreateCpu(CPUDevice.GetDevice(CPUDeviceKind.Nvidia));

    /// <summary>A CPU accelerator with warp 32 and <paramref name="warpsPerGroup"/> warps per group (one multiprocessor).</summary>
    /// <remarks>
    /// The CPU accelerator runs one OS thread per simulated thread of a group, so a smaller device is lighter on machines
    /// with few cores. Kernels size their groups from the accelerator, but kernels with fixed group sizes (the matmul and
    /// attention tiles use 256 threads) need at least 8 warps.
    /// </remarks>
    public static IlgpuBackend CreateCpu(int warpsPerGroup) => CreateCpu(new CPUDevice(32, warpsPerGroup, 1));

    private static IlgpuBackend CreateCpu(CPUDevice device)
    {
        var context = Context.Create(b => b.CPU(device).EnableAlgorithms());
        try
        {
            return new IlgpuBackend(context, context.CreateCPUAccelerator(0, CPUAcceleratorMode.Parallel), "ilgpu-cpu");
        }
        catch
        {
            context.Dispose();
            throw;
        }
    }

    /// <summary>OpenCL device number <paramref name="device"/> (in ILGPU's order); throws when there is none.</summary>
    public static IlgpuBackend CreateOpenCL(int device = 0)
    {
        var context = Context.Create(b => b.OpenCL().EnableAlgorithms());
        try
        {
            var devices = context.GetCLDevices();
            if (devices.Count == 0)
                throw new InvalidOperationException("no OpenCL device found (is an OpenCL driver and libOpenCL.so.1 installed?)");
            if (device < 0 || device >= devices.Count)
                throw new InvalidOperationException($"OpenCL device {device} does not exist ({devices.Count} found)");
            return new IlgpuBackend(context, context.CreateCLAccelerator(device), "ilgpu-opencl");
        }
        catch
        {
            context.Dispose();
            throw;
        }
    }

    /// <summary>The backend for a CLI device name (cuda, ilgpu-cpu, opencl), or null when it is unknown or unavailable.</summary>
    public static IlgpuBackend? TryCreate(string device) => TryCreate(device, out _);

    /// <summary>As <see cref="TryCreate(string)"/>, with the reason when it returns null.</summary>
    public static IlgpuBackend? TryCreate(string device, out string? reason)
    {
        reason = null;
        try
        {
            return device.ToLowerInvariant() switch
            {
                "cuda" or "ilgpu-cuda" => CreateCuda(),
                "ilgpu-cpu" => CreateCpu(),
                "opencl" or "ilgpu-opencl" => CreateOpenCL(),
                _ => throw new ArgumentException($"unknown ILGPU device '{device}' (cuda, ilgpu-cpu, opencl)"),
            };
        }
        catch (Exception e) when (e is InvalidOperationException or ArgumentException or DllNotFoundException or TypeInitializationException or NotSupportedException
                                  || e.GetType().Namespace?.StartsWith("ILGPU", StringComparison.Ordinal) == true)
        {
            reason = e.Message;
            return null;
        }
    }

    /// <summary>True when a CUDA device can be opened; <paramref name="reason"/> says why not.</summary>
    public static bool IsCudaAvailable(out string reason)
    {
        lock (CudaProbeLock)
        {
            if (_cudaProbe is null)
            {
                try
                {
                    using var context = Context.Create(b => b.Cuda());
                    int count = context.GetCudaDevices().Count;
                    _cudaProbe = count > 0 ? "" : "no CUDA device found (no NVIDIA driver, or libcuda.so.1 is not on the loader path)";
                }
                catch (Exception e)
                {
                    _cudaProbe = $"CUDA is unavailable: {e.GetType().Name}: {e.Message}";
                }
            }
            reason = _cudaProbe;
            return reason.Length == 0;
        }
    }

    private static readonly object CudaProbeLock = new();
    private static string? _cudaProbe;

    // ---------------------------------------------------------------- memory

    public Storage Allocate(long elements, DType dtype)
    {
        if (elements < 0) throw new ArgumentOutOfRangeException(nameof(elements));
        ObjectDisposedException.ThrowIf(_disposed, this);
        return new IlgpuStorage(this, _pool, elements, dtype);
    }

    /// <summary>The storage of a tensor of this backend (throws naming the op when it lives elsewhere).</summary>
    private IlgpuStorage StorageOf(Tensor t)
    {
        if (t.Storage is IlgpuStorage s && ReferenceEquals(s.Backend, this)) return s;
        throw new TensorException($"{Name} backend: tensor {Check.Fmt(t.Shape)} lives on {t.Backend.Name}");
    }

    /// <summary>The tensor's elements from its element (0, …, 0) to the end of its storage, as T.</summary>
    private ArrayView<T> ViewOf<T>(Tensor t) where T : unmanaged
    {
        var s = StorageOf(t);
        var all = s.View<T>();
        return all.SubView(t.Layout.Offset, all.Length - t.Layout.Offset);
    }

    /// <summary>F32 elements of a tensor (starting at its offset).</summary>
    internal ArrayView<float> F(Tensor t) => ViewOf<float>(t);

    /// <summary>I32 elements of a tensor (starting at its offset).</summary>
    internal ArrayView<int> I(Tensor t) => ViewOf<int>(t);

    /// <summary>A device view of a tensor's elements as T (for kernels outside this class: masking, sampling, checks).</summary>
    public ArrayView<T> View<T>(Tensor t) where T : unmanaged
    {
        if (Unsafe.SizeOf<T>() != t.DType.SizeOf()) throw new TensorException($"View: {typeof(T).Name} does not match {t.DType}");
        return ViewOf<T>(t);
    }

    private ArrayView<byte> BytesOf(Tensor t, long count)
    {
        var s = StorageOf(t);
        int e = t.DType.SizeOf();
        return s.Bytes.SubView(t.Layout.Offset * e, count * e);
    }

    // ---------------------------------------------------------------- host transfer

    public void Upload<T>(ReadOnlySpan<T> src, Tensor dst) where T : unmanaged
    {
        if (!dst.IsContiguous) throw new TensorException("Upload: destination must be contiguous");
        long bytes = (long)src.Length * Unsafe.SizeOf<T>();
        if (bytes != dst.Numel * dst.DType.SizeOf()) throw new TensorException($"Upload: {src.Length} values do not fill {Check.Fmt(dst.Shape)} {dst.DType}");
        if (bytes == 0) return;
        var view = BytesOf(dst, dst.Numel);
        var raw = MemoryMarshal.AsBytes(src);
        view.CopyFromCPU(Kernels.Stream, ref MemoryMarshal.GetReference(raw), raw.Length);
    }

    public void Download<T>(Tensor src, Span<T> dst) where T : unmanaged
    {
        if (!src.IsContiguous) throw new TensorException("Download: source must be contiguous");
        long bytes = src.Numel * src.DType.SizeOf();
        if (bytes != (long)dst.Length * Unsafe.SizeOf<T>()) throw new TensorException($"Download: {dst.Length} slots for {Check.Fmt(src.Shape)} {src.DType}");
        ThrowPendingIndexError();
        if (bytes == 0) return;
        Interlocked.Increment(ref _downloads);
        Interlocked.Add(ref _downloadedBytes, bytes);
        var view = BytesOf(src, src.Numel);
        var raw = MemoryMarshal.AsBytes(dst);
        view.CopyToCPU(Kernels.Stream, ref MemoryMarshal.GetReference(raw), raw.Length);
    }

    private long _downloads, _downloadedBytes;

    /// <summary>Device → host copies made by <see cref="Download{T}"/> since the backend was created (index-error read-backs not counted).</summary>
    public long Downloads => Interlocked.Read(ref _downloads);

    /// <summary>Bytes copied device → host by <see cref="Download{T}"/> (what the sampler's per-step test counts).</summary>
    public long DownloadedBytes => Interlocked.Read(ref _downloadedBytes);

    /// <summary>Waits until every queued kernel has finished (and reports a pending index error).</summary>
    public void Synchronize()
    {
        Kernels.Synchronize();
        ThrowPendingIndexError();
    }

    // ---------------------------------------------------------------- index errors

    /// <summary>The index kernels, for messages that match CpuBackend's; each has its own pair of error slots.</summary>
    private enum IndexOp { IndexSelect, IndexAdd, Gather, ScatterAdd, CrossEntropy, Count }

    private readonly long[] _limits = new long[(int)IndexOp.Count];

    /// <summary>The two device error slots of one index op (see ErrorSlots).</summary>
    private ArrayView<int> ErrorView(IndexOp op) => _errors.View<int>().SubView(2 * (int)op, 2);

    /// <summary>After an index kernel: checks now or marks a check as pending.</summary>
    private void AfterIndexKernel(IndexOp op, long limit)
    {
        _limits[(int)op] = limit;
        _errorsPending = true;
        if (EagerIndexChecks) ThrowPendingIndexError();
    }

    private void ThrowPendingIndexError()
    {
        if (!_errorsPending) return;
        _errorsPending = false;
        Span<int> slots = stackalloc int[2 * (int)IndexOp.Count];
        var view = _errors.Bytes;
        view.CopyToCPU(Kernels.Stream, ref MemoryMarshal.GetReference(MemoryMarshal.AsBytes(slots)), view.Length);
        for (int k = 0; k < (int)IndexOp.Count; k++)
        {
            if (slots[2 * k] == 0) continue;
            view.MemSetToZero(Kernels.Stream);
            int value = slots[2 * k + 1], at = slots[2 * k] - 1;
            long limit = _limits[k];
            throw new TensorException((IndexOp)k switch
            {
                IndexOp.IndexSelect => Check.IdOutOfRange("IndexSelect", value, at, limit),
                IndexOp.IndexAdd => Check.IdOutOfRange("IndexAdd", value, at, limit),
                IndexOp.Gather => Check.IndexOutOfRange("Gather", value, at, limit),
                IndexOp.ScatterAdd => Check.IndexOutOfRange("ScatterAdd", value, at, limit),
                _ => Check.TargetOutOfRange(value, at, limit),
            });
        }
    }

    // ---------------------------------------------------------------- lifetime

    /// <summary>Frees every device buffer, then the accelerator and its context.</summary>
    public void Dispose()
    {
        if (_disposed) return;
        _disposed = true;
        try
        {
            Kernels.Synchronize();
        }
        finally
        {
            foreach (var (_, tables) in _ropeTables) tables.Dispose();
            _ropeTables.Clear();
            _pool.Dispose();
            Kernels.Dispose();
        }
    }
}
