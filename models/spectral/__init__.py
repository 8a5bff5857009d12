"""Spectral autoencoder baseline (NSynth paper): log-magnitude STFT features, 2-D conv AE, Griffin-Lim.

16 kHz mono; STFT n_fft 1024, hop 256, centred; log-magnitudes normalised to [0, 1] (see `features`).
"""

from models.spectral.features import LogMel, SpectrogramConfig, log_magnitude, logmag_to_magnitude
from models.spectral.griffin_lim import griffin_lim, spectral_convergence
from models.spectral.model import (
                                   CONFIGS,
                                   TEST_CONFIGS,
                                   SpectralAEConfig,
                                   SpectralAutoencoder,
                                   frequency_weights,
                                   get_config,
)

__all__ = ["CONFIGS", "TEST_CONFIGS", "LogMel", "SpectralAEConfig", "SpectralAutoencoder",
           "SpectrogramConfig", "frequency_weights", "get_config", "griffin_lim", "log_magnitude",
           "logmag_to_magnitude", "spectral_convergence"]
