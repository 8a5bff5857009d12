"""NSynth note classifier (judge of reconstructions): 4-s notes at 16 kHz -> instrument family and MIDI pitch.

Log-mel front end in the graph (ONNX-exportable); two softmax heads: 11 families, 88 pitches (MIDI 21..108).
"""

from models.classifier.model import (
                                     CONFIGS,
                                     DEFAULT_CONFIG,
                                     FAMILIES,
                                     TEST_CONFIGS,
                                     ClassifierConfig,
                                     NoteClassifier,
                                     get_config,
)

__all__ = ["CONFIGS", "DEFAULT_CONFIG", "FAMILIES", "TEST_CONFIGS", "ClassifierConfig", "NoteClassifier",
           "get_config"]
