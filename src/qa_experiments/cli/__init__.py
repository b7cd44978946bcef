"""What the command-line entry points share: running a command under the one user-error policy
(`errors`), argument types and checks (`arguments`), and Hydra's own mistakes as one line
(`hydra_errors`). Only the command modules at the top of the package import it."""
