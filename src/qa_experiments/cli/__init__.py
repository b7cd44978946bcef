"""What the command-line entry points share: the one user-error policy (`errors`), argument
types and checks, Hydra error reporting. The entry modules (`qa_experiments.train`, `predict`,
`evaluate`, `compare`, `report`, `wandb_sweep`) are the only importers."""
