"""NSynth-Super-style sample banks: corner grids decoded note by note, SFZ instruments, tuning."""
