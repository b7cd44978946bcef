"""qa-experiments: Hydra-driven fine-tuning of extractive question answering models on SQuAD."""

__version__ = "0.1.0"
