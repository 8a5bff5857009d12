"""ONNX export of trained models (torch side; the runtime reads the files with `export.onnx.loader`)."""
