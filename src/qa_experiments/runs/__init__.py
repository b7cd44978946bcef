"""The run directory: its file names and statuses (`layout`), atomic writes, who may write
into it (`claim`), and the summary a person reads at the end. Imports `config` and `errors`."""
