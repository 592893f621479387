using System.Runtime.CompilerServices;

// The kernel methods, register structs and alignment helpers are internal; the tests compile and inspect them directly.
[assembly: InternalsVisibleTo("LLaDA.Tests")]
