"""The chat framework: command parsing, routing, the per-message context and the pipeline."""
