"""Training: presets, input pipeline, the trainer, its callbacks, averaging, distribution and export."""
