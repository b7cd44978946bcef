"""The life of one training job: claim its run directory, check its inputs, train, record
its status, results and W&B run whatever happens. Imports `training` and everything below."""
