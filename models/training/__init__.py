"""Training loops, data batching and checkpoints (torch)."""
