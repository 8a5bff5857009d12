"""Optimisation-based audio style transfer (torch): NSynth-encoder activations, STFT Gram, random CNN."""
