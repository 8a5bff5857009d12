"""ONNX Runtime: opening exported graphs with their metadata, execution providers, the bundled models."""
