"""WaveNet decoder (PyTorch, training): mu-law, gated residual layers, teacher forcing, queue generation.

16 kHz, 8-bit mu-law classes; state for streaming is explicit (see `incremental`).
"""

from models.wavenet.configs import CONFIGS, TEST_CONFIGS, get_config
from models.wavenet.incremental import StepModule, generate, init_state, step
from models.wavenet.model import WaveNet, WaveNetConfig, period_from_f0, period_per_sample

__all__ = ["CONFIGS", "TEST_CONFIGS", "StepModule", "WaveNet", "WaveNetConfig", "generate", "get_config",
           "init_state", "period_from_f0", "period_per_sample", "step"]
