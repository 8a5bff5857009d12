"""The torch-free runtime every other package imports, in layers that import only downward:
core < onnx < autoencoder < wavenet < banks < app (`models/` may import only `export.core`)."""

__version__ = "0.1.0"
