using System.Runtime.InteropServices;

namespace LLaDA.Diffusion.Distributed;

/// <summary>An MPI call returned an error code, or the MPI library could not be loaded.</summary>
public sealed class MpiException(string message) : Exception(message);

/// <summary>
/// A thin binding of the MPI C API (Open MPI 4/5 ABI) for one process of an `mpirun` job: init/finalize, rank/size,
/// blocking and non-blocking all-reduce, all-gather, broadcast, barrier, abort. Only the thread that called
/// <see cref="Init"/> makes MPI calls (MPI_THREAD_FUNNELED); the CPU backend's workers never do.
/// </summary>
/// <remarks>
/// libmpi is opened with RTLD_GLOBAL (Open MPI's plugins resolve its symbols from the global scope) and the functions
/// are called through unmanaged function pointers. In Open MPI's ABI the predefined handles (MPI_COMM_WORLD, MPI_FLOAT,
/// MPI_SUM, …) are the addresses of exported globals (ompi_mpi_comm_world, ompi_mpi_float, ompi_mpi_op_sum), so they
/// come from the same symbol lookup. MPI_IN_PLACE is (void*)1 and MPI_STATUS_IGNORE is NULL.
/// </remarks>
public static unsafe class Mpi
{
    private static readonly string[] LibraryNames = ["libmpi.so.40", "libmpi.so"];
    private const int RtldNow = 0x2, RtldGlobal = 0x100, ThreadFunneled = 1;
    private static readonly nint InPlace = 1;

    [DllImport("libc.so.6", EntryPoint = "dlopen")]
    private static extern nint DlOpen([MarshalAs(UnmanagedType.LPUTF8Str)] string file, int mode);

    [DllImport("libc.so.6", EntryPoint = "setenv")]
    private static extern int SetEnv([MarshalAs(UnmanagedType.LPUTF8Str)] string name, [MarshalAs(UnmanagedType.LPUTF8Str)] string value, int overwrite);

    private static nint _lib, _world, _float, _double, _int64, _sum;
    private static delegate* unmanaged<int*, nint, int, int*, int> _initThread;
    private static delegate* unmanaged<int> _finalize;
    private static delegate* unmanaged<nint, int*, int> _commRank, _commSize;
    private static delegate* unmanaged<nint, nint, int, nint, nint, nint, int> _allreduce;
    private static delegate* unmanaged<nint, nint, int, nint, nint, nint, nint*, int> _iallreduce;
    private static delegate* unmanaged<nint*, int*, nint, int> _test;
    private static delegate* unmanaged<nint*, nint, int> _wait;
    private static delegate* unmanaged<nint, int, nint, nint, int, nint, nint, int> _allgather;
    private static delegate* unmanaged<nint, int, nint, int, nint, int> _bcast;
    private static delegate* unmanaged<nint, int> _barrier;
    private static delegate* unmanaged<nint, int, int> _abort;

    /// <summary>True when this process was started by mpirun/mpiexec (Open MPI or a PMI/PMIx launcher sets these).</summary>
    public static bool Launched =>
        Environment.GetEnvironmentVariable("OMPI_COMM_WORLD_SIZE") is not null
        || Environment.GetEnvironmentVariable("PMIX_RANK") is not null
        || Environment.GetEnvironmentVariable("PMI_SIZE") is not null;

    public static bool Initialized { get; private set; }
    public static int Rank { get; private set; }
    public static int Size { get; private set; } = 1;

    /// <summary>MPI_Init_thread(FUNNELED) once per process; reads rank and size of MPI_COMM_WORLD.</summary>
    public static void Init()
    {
        if (Initialized) return;
        // Open MPI's own SIGSEGV/SIGBUS handlers would replace the .NET runtime's (which turn faults into exceptions).
        if (Environment.GetEnvironmentVariable("OMPI_MCA_opal_signal") is null) SetEnv("OMPI_MCA_opal_signal", "", 1);
        Load();
        int provided;
        Check(_initThread(null, 0, ThreadFunneled, &provided), "MPI_Init_thread");
        int rank, size;
        Check(_commRank(_world, &rank), "MPI_Comm_rank");
        Check(_commSize(_world, &size), "MPI_Comm_size");
        (Rank, Size, Initialized) = (rank, size, true);
    }

    public static void Shutdown()
    {
        if (!Initialized) return;
        Initialized = false;
        Check(_finalize(), "MPI_Finalize");
    }

    /// <summary>MPI_Abort on MPI_COMM_WORLD: the launcher kills every rank of the job; does not return.</summary>
    public static void Abort(int code)
    {
        if (Initialized) _abort(_world, code);
        Environment.Exit(code);
    }

    public static void Barrier() => Check(_barrier(_world), "MPI_Barrier");

    /// <summary>buffer ← Σ over ranks of buffer (MPI_Allreduce, MPI_IN_PLACE, MPI_SUM).</summary>
    public static void SumInPlace(Span<float> buffer)
    {
        fixed (float* p = buffer) Check(_allreduce(InPlace, (nint)p, buffer.Length, _float, _sum, _world), "MPI_Allreduce");
    }

    /// <inheritdoc cref="SumInPlace(Span{float})"/>
    public static void SumInPlace(Span<double> buffer)
    {
        fixed (double* p = buffer) Check(_allreduce(InPlace, (nint)p, buffer.Length, _double, _sum, _world), "MPI_Allreduce");
    }

    /// <summary>Starts buffer ← Σ over ranks (MPI_Iallreduce in place); the memory must stay pinned until the request completes.</summary>
    public static nint StartSum(float* buffer, int count)
    {
        nint request;
        Check(_iallreduce(InPlace, (nint)buffer, count, _float, _sum, _world, &request), "MPI_Iallreduce");
        return request;
    }

    /// <summary>MPI_Test: true when the request completed (it is then freed and set to MPI_REQUEST_NULL); drives progress.</summary>
    public static bool Test(ref nint request)
    {
        int flag;
        fixed (nint* r = &request) Check(_test(r, &flag, 0), "MPI_Test");
        return flag != 0;
    }

    /// <summary>MPI_Wait until the request completes.</summary>
    public static void Wait(ref nint request)
    {
        fixed (nint* r = &request) Check(_wait(r, 0), "MPI_Wait");
    }

    /// <summary>Every rank's value, indexed by rank (MPI_Allgather of one int64).</summary>
    public static long[] Gather(long value)
    {
        var all = new long[Size];
        fixed (long* p = all) Check(_allgather((nint)(&value), 1, _int64, (nint)p, 1, _int64, _world), "MPI_Allgather");
        return all;
    }

    /// <summary>Every rank's values, rank-major (MPI_Allgather of a fixed-length double vector).</summary>
    public static double[] Gather(ReadOnlySpan<double> values)
    {
        var all = new double[Size * values.Length];
        fixed (double* s = values)
        fixed (double* p = all)
            Check(_allgather((nint)s, values.Length, _double, (nint)p, values.Length, _double, _world), "MPI_Allgather");
        return all;
    }

    /// <summary>Root's bytes into every rank's buffer (MPI_Bcast).</summary>
    public static void Broadcast(Span<byte> buffer, int root)
    {
        fixed (byte* p = buffer) Check(_bcast((nint)p, buffer.Length, Export("ompi_mpi_byte"), root, _world), "MPI_Bcast");
    }

    private static void Load()
    {
        if (_lib != 0) return;
        foreach (var name in LibraryNames)
            if ((_lib = DlOpen(name, RtldNow | RtldGlobal)) != 0) break;
        if (_lib == 0)
            throw new MpiException($"cannot load the MPI library ({string.Join(" or ", LibraryNames)}); install Open MPI (Debian: apt-get install openmpi-bin libopenmpi-dev)");
        _world = Export("ompi_mpi_comm_world");
        _float = Export("ompi_mpi_float");
        _double = Export("ompi_mpi_double");
        _int64 = Export("ompi_mpi_int64_t");
        _sum = Export("ompi_mpi_op_sum");
        _initThread = (delegate* unmanaged<int*, nint, int, int*, int>)Export("MPI_Init_thread");
        _finalize = (delegate* unmanaged<int>)Export("MPI_Finalize");
        _commRank = (delegate* unmanaged<nint, int*, int>)Export("MPI_Comm_rank");
        _commSize = (delegate* unmanaged<nint, int*, int>)Export("MPI_Comm_size");
        _allreduce = (delegate* unmanaged<nint, nint, int, nint, nint, nint, int>)Export("MPI_Allreduce");
        _iallreduce = (delegate* unmanaged<nint, nint, int, nint, nint, nint, nint*, int>)Export("MPI_Iallreduce");
        _test = (delegate* unmanaged<nint*, int*, nint, int>)Export("MPI_Test");
        _wait = (delegate* unmanaged<nint*, nint, int>)Export("MPI_Wait");
        _allgather = (delegate* unmanaged<nint, int, nint, nint, int, nint, nint, int>)Export("MPI_Allgather");
        _bcast = (delegate* unmanaged<nint, int, nint, int, nint, int>)Export("MPI_Bcast");
        _barrier = (delegate* unmanaged<nint, int>)Export("MPI_Barrier");
        _abort = (delegate* unmanaged<nint, int, int>)Export("MPI_Abort");
    }

    private static nint Export(string symbol)
        => NativeLibrary.TryGetExport(_lib, symbol, out var p) ? p : throw new MpiException($"the MPI library has no symbol '{symbol}' (not Open MPI 4/5?)");

    private static void Check(int code, string call)
    {
        if (code != 0) throw new MpiException($"{call} failed with MPI error {code}");
    }
}
