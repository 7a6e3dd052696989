"""Training: losses, the training loop with checkpoints and logs (`larsnet train`)."""
