"""The stream worker: faust agents that keep one table row per candidate (see docs/worker.md)."""
