"""Streaming engine: audio devices, worker thread, OSC control (ONNX Runtime only, no torch)."""
