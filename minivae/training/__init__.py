"""Training: the trainer, engines by name, evaluation, checkpoints."""
