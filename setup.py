"""latentbridge: a neural audio host bridge (NSynth-style resynthesis, latent morphing, OSC)."""

from setuptools import Extension, find_packages, setup

# The native WaveNet kernel (export/wavenet/native/wavenet_kernel.c): plain C with OpenMP, built by pip install.
# No implicit fused multiply-adds: the vector and portable float code must round alike (bit-identical int8 paths).
NATIVE = Extension("export.wavenet._wavenet_native", ["export/wavenet/native/wavenet_kernel.c"],
                   extra_compile_args=["-O3", "-fopenmp", "-fno-math-errno", "-ffp-contract=off", "-std=c11"],
                   extra_link_args=["-fopenmp"])
# The live engine's native audio stream (realtime/native/audio_stream.c): a PortAudio callback in C that never
# takes the GIL; PortAudio itself is dlopen'ed at run time (libportaudio2, no headers needed to build).
AUDIO = Extension("realtime._audio_native", ["realtime/native/audio_stream.c"],
                  extra_compile_args=["-O2", "-std=c11", "-ffp-contract=off", "-fno-fast-math"], libraries=["dl"])
# The machine-stall probe (realtime/native/stall_probe.c): per-CPU SCHED_FIFO timer threads, as cyclictest.
STALLS = Extension("realtime._stall_native", ["realtime/native/stall_probe.c"],
                   extra_compile_args=["-O2", "-std=c11"], libraries=["pthread"])

setup(
    name="latentbridge",
    version="0.1.0",
    description="Neural audio host bridge: NSynth-style resynthesis, timbre morphing, OSC control",
    long_description=open("README.md", encoding="utf-8").read(),
    long_description_content_type="text/markdown",
    python_requires=">=3.11",
    packages=find_packages(include=["models*", "export*", "realtime*", "plugin_host*"]),
    include_package_data=True,
    package_data={"plugin_host": ["presets/*.yaml"], "models.data": ["off_key_instruments.json"],
                  "export": ["bundled/*.json", "bundled/*.pt", "bundled/*.csv", "bundled/*.onnx", "bundled/*.npz",
                             "bundled/*.wav"]},
    install_requires=[
        "numpy>=1.26",
        "scipy>=1.11",
        "torch>=2.2",
        "onnx>=1.16",
        "onnxruntime-gpu>=1.18",
        "pedalboard>=0.9.12",
        "python-osc>=1.10.2",
        "sounddevice>=0.4.6",
        "tqdm>=4.66",
        "matplotlib>=3.8",
        "mido>=1.3",
        "python-rtmidi>=1.5",
        "PyYAML>=6.0",
        "jsonschema>=4.20",
        "zeroconf>=0.131",
        "pystoi>=0.4",
    ],
    extras_require={"dev": ["pytest>=8", "ruff>=0.5", "mypy>=1.10", "JACK-Client>=0.5.4", "sfzlint>=0.1.4",
                            "ray>=2.9", "mir_eval>=0.7", "librosa>=0.10", "pretty_midi>=0.2.10",
                            "resampy<0.4.3", "scikit-learn>=1.3", "setuptools<81"],
                    "ray": ["ray>=2.9"]},
    ext_modules=[NATIVE, AUDIO, STALLS],
    entry_points={"console_scripts": ["latentbridge=export.app.cli:main"]},
)
