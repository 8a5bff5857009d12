"""Doctor checks for the runtime layer: Python, packages, ONNX Runtime providers, GPU, bundled models."""

from __future__ import annotations

import importlib
import importlib.metadata
import platform
import sys

from export.app.doctor import Check

# (import name, distribution name, required, what needs it)
PACKAGES: tuple[tuple[str, str, bool, str], ...] = (
    ("numpy", "numpy", True, "everything"),
    ("onnx", "onnx", True, "export"),
    ("onnxruntime", "onnxruntime-gpu", True, "runtime"),
    ("pedalboard", "pedalboard", True, "audio I/O, effects"),
    ("pythonosc", "python-osc", True, "OSC control"),
    ("tqdm", "tqdm", True, "progress bars"),
    ("matplotlib", "matplotlib", True, "plots"),
    ("yaml", "PyYAML", True, "presets"),
    ("mido", "mido", True, "MIDI for the clip renderer"),
    ("torch", "torch", False, "training, export and style transfer only"),
)


def _package_check(module: str, dist: str, required: bool, purpose: str) -> Check:
    try:
        importlib.import_module(module)
        version = importlib.metadata.version(dist)
    except Exception as exc:  # any import failure means the package is unusable
        return Check(f"python: {dist}", False, f"not importable ({type(exc).__name__}) — {purpose}",
                     fix=f"pip install '{dist}' (or run `make setup`)", required=required)
    return Check(f"python: {dist}", True, f"{version} — {purpose}", required=required)


def checks() -> list[Check]:
    from export.onnx.providers import cuda_device_count, preferred_providers

    py_ok = sys.version_info >= (3, 11)
    result = [Check("python", py_ok, f"{platform.python_version()} ({sys.executable})",
                    fix="install Python 3.11 or newer")]
    result += [_package_check(*row) for row in PACKAGES]
    try:
        import onnxruntime as ort

        providers = preferred_providers()
        result.append(Check("onnxruntime providers", True,
                            f"using {', '.join(providers)} (built with {', '.join(ort.get_available_providers())})"))
    except ImportError:
        pass
    gpus = cuda_device_count()
    result.append(Check("gpu", gpus > 0, f"{gpus} CUDA device(s)" if gpus else "none: running on the CPU",
                        fix="optional: a CUDA GPU with its driver speeds up training and offline rendering",
                        required=False))
    from export.onnx.bundled import bundled_models

    models = bundled_models()
    detail = ", ".join(f"{m.name} v{m.format_version}" for m in models) or "none bundled in this version yet"
    result.append(Check("bundled models", bool(models), detail, required=False))
    return result
