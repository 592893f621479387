using BenchmarkDotNet.Running;

// dotnet run -c Release --project benchmarks/LLaDA.Benchmarks -- --filter '*MatMul*'
BenchmarkSwitcher.FromAssembly(typeof(LLaDA.Benchmarks.MatMulBenchmarks).Assembly).Run(args);
