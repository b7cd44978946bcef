"""Extractive-QA models: load any backbone and its tokenizer (Hub or local), device and
precision settings (with the CPU features they depend on), and the tiny random models for
offline tests. Imports `data`, `config` and the foundation modules."""
