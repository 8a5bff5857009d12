"""WaveNet generation at run time: the native cached-queue kernel, the ONNX step loop, note decoders."""
