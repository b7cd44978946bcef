"""What the command-line entry points share: running a command through the one error path
(`errors.run_command`), argument types and checks (`arguments`), and Hydra's own mistakes as
UserErrors (`hydra_errors`). Only the command modules at the top of the package import it."""
