"""The causal multi-pitch tracker (training side, torch): harmonic-stacked log-frequency spectra -> frame
activations at three bins per semitone and per-semitone onsets, one frame per 128 samples at 16 kHz."""
