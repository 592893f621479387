using LLaDA.Cli;

return Cli.Run(args);
