namespace LLaDA.Tests.Cli;

/// <summary>Runs the `llada` entry point in-process with captured stdout/stderr (and optional stdin); tests that use it share the "Console" collection.</summary>
public static class CliRunner
{
    public static (int Code, string Out, string Err) Run(string[] args, string? stdin = null)
    {
        var o = new StringWriter();
        var e = new StringWriter();
        var (so, se, si) = (Console.Out, Console.Error, Console.In);
        Console.SetOut(o);
        Console.SetError(e);
        if (stdin is not null) Console.SetIn(new StringReader(stdin));
        try
        {
            return (LLaDA.Cli.Cli.Run(args), o.ToString(), e.ToString());
        }
        finally
        {
            Console.SetOut(so);
            Console.SetError(se);
            Console.SetIn(si);
        }
    }
}
