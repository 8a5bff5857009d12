"""Evaluation judges: pretrained networks that score audio (CREPE pitch); numpy in, numpy out, 16 kHz."""
