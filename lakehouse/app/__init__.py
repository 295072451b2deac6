"""The application: the pipeline over the layers, the CLI, erasure, audit, maintenance,
notebook helpers and the sample generator."""
