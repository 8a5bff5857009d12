"""NSynth-style autoencoder with explicit pitch / loudness controls and a harmonic-plus-noise decoder."""
