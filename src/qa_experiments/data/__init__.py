"""SQuAD data: read files or Hub splits, check every record, cut questions into model windows,
cache the windows. Imports `config` and the foundation modules (`errors`, `hub`)."""
