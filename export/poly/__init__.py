"""Polyphony at run time (ONNX Runtime only): the multi-pitch tracker, voices, batched harmonic decoding."""
