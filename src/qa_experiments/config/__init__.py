"""Configuration: the structured schema every composed config is checked against, and where the
package finds its config groups and bundled files. Imports only `qa_experiments.errors`."""
