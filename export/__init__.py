"""Runtime layer: ONNX export/loading, audio I/O and the CLI entry point (no torch at import)."""

__version__ = "0.1.0"
