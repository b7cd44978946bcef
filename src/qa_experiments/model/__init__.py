"""Extractive-QA models: load any backbone and its tokenizer (Hub or local), device and
precision settings, and the tiny random models for offline tests. Imports `data`, `config` and
the foundation modules."""
