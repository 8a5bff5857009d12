"""Per-frame controls estimated from audio (16 kHz, causal hop-128 frames): YIN f0, periodicity, loudness."""
