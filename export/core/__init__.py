"""Runtime base: errors, audio I/O (float32 mono 16 kHz inside), progress bars, pitch units; imports nothing else."""
