"""ONNX Runtime execution providers: CUDA only when a CUDA device is really usable, else CPU.

Asking ONNX Runtime for CUDA on a machine without a driver makes it print provider warnings,
so the driver is probed first through `libcuda` (no ONNX session is created for the probe).
"""

from __future__ import annotations

import ctypes
import functools


@functools.lru_cache(maxsize=1)
def cuda_device_count() -> int:
    """Number of CUDA devices the driver reports (0 when no driver or no device)."""
    try:
        lib = ctypes.CDLL("libcuda.so.1")
    except OSError:
        return 0
    count = ctypes.c_int(0)
    if lib.cuInit(0) != 0 or lib.cuDeviceGetCount(ctypes.byref(count)) != 0:
        return 0
    return int(count.value)


def preferred_providers(allow_gpu: bool = True) -> list[str]:
    """Providers to pass to `onnxruntime.InferenceSession`, best first."""
    import onnxruntime as ort

    available = ort.get_available_providers()
    if allow_gpu and "CUDAExecutionProvider" in available and cuda_device_count() > 0:
        return ["CUDAExecutionProvider", "CPUExecutionProvider"]
    return ["CPUExecutionProvider"]
