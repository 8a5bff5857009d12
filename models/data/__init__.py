"""Dataset renderers and readers in the official NSynth, MagnaTagATune and VCTK layouts."""
