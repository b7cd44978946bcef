"""What Hydra and Ray call while a `qa-train` command runs, named in `conf/` rather than
imported by the library: the config resolvers (`resolvers`), the sweep callback
(`sweep_callback`) and the Ray worker's environment and setup hook (`ray_jobs`). Imports the
layers below the commands; only the command modules import it."""
