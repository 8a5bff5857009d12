"""Named WaveNet configurations: the published NSynth decoder, the export benchmark, the CPU-trainable ones.

All run at 16 kHz on 8-bit mu-law (256 classes); `hop` is in audio samples. `TEST_CONFIGS` are tiny versions
of every conditioning kind, used by the tests (queue generation == teacher forcing, ONNX export).
"""

from __future__ import annotations

from dataclasses import replace

from models.config_dicts import named_config
from models.wavenet.model import WaveNetConfig

# NSynth WaveNet-autoencoder decoder: 30 layers in 3 stacks of 10 (dilations 1..512), 512 residual and
# 256 skip channels, kernel 3 as in the released h512_bo16 model (receptive field 6139 samples), conditioned
# on the 16-dim latent every 512 samples (32 ms).
NSYNTH_DECODER = WaveNetConfig(layers=30, cycle=10, kernel_size=3, residual_channels=512, skip_channels=256,
                               local_channels=16, hop=512)

# Benchmark of the export issue: unconditioned, 20 layers, dilations 1..512 twice.
REFERENCE_BENCH = WaveNetConfig(layers=20, cycle=10, kernel_size=2, residual_channels=64, skip_channels=128)

# Autoencoder decoder that trains on one CPU core: z (16) + pitch, loudness and periodicity (the
# autoencoder's control features) every 128 samples, plus the waveform one pitch period back (periods
# 2..320 samples, i.e. f0 >= 50 Hz).
AE_SMALL = WaveNetConfig(layers=16, cycle=8, kernel_size=2, residual_channels=32, skip_channels=64,
                         local_channels=19, hop=128, period_input=True, max_period=320)

# Conditional speech WaveNet (VCTK: 109 speakers): speaker id embedded, gender as a one-hot vector
# [female, male]. Local conditioning is optional:
# dataclasses.replace(SPEECH_SMALL, local_channels=..., hop=...).
SPEECH_SMALL = WaveNetConfig(layers=16, cycle=8, kernel_size=2, residual_channels=32, skip_channels=64,
                             global_classes=109, global_embed_dim=16, global_dim=2)

CONFIGS: dict[str, WaveNetConfig] = {
    "nsynth_decoder": NSYNTH_DECODER,
    "reference_bench": REFERENCE_BENCH,
    "ae_small": AE_SMALL,
    "speech_small": SPEECH_SMALL,
}

_TINY = WaveNetConfig(layers=5, cycle=3, residual_channels=8, skip_channels=12)  # dilations 1 2 4 1 2
TEST_CONFIGS: dict[str, WaveNetConfig] = {
    "tiny": _TINY,
    "tiny_kernel3": replace(_TINY, kernel_size=3),
    "tiny_global_id": replace(_TINY, global_classes=4, global_embed_dim=3),
    "tiny_global_vec": replace(_TINY, global_dim=2),
    "tiny_local": replace(_TINY, local_channels=3, hop=4),
    "tiny_period": replace(_TINY, period_input=True, max_period=9),
    "tiny_speech": replace(_TINY, global_classes=4, global_embed_dim=3, global_dim=2),
    "tiny_notes": replace(_TINY, local_channels=7, hop=128, period_input=True, max_period=320),  # tiny AE's z4
    "tiny_all": replace(_TINY, kernel_size=3, local_channels=3, hop=4, global_classes=4, global_embed_dim=3,
                        global_dim=2, period_input=True, max_period=9),
}


def get_config(name: str) -> WaveNetConfig:
    """The named config from CONFIGS or TEST_CONFIGS; LatentbridgeError for an unknown name."""
    return named_config(name, "WaveNet", CONFIGS, TEST_CONFIGS)
