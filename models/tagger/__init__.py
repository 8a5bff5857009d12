"""Raw-audio music tagger (sample-level CNN, Lee et al. 2017): 59 049-sample windows at 16 kHz -> tag logits.

Multi-label: one sigmoid per tag; tag names travel in the config (`TaggerConfig.tag_names`).
"""

from models.tagger.configs import CONFIGS, TEST_CONFIGS, TaggerConfig, get_config, with_tags
from models.tagger.model import SampleCNN, window_starts

__all__ = ["CONFIGS", "TEST_CONFIGS", "SampleCNN", "TaggerConfig", "get_config", "window_starts", "with_tags"]
