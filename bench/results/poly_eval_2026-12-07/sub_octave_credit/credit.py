"""Scratch: `latentbridge ARGS` with the voices' sub-octave credit at CREDIT (environment) instead of
`SUB_OCTAVE_CREDIT`, clipped at 1 (a credit above 1 would make a sub-octave louder than its whole energy)."""

import os
import sys

import numpy as np

import export.poly.poly_synth as poly_synth
import export.poly.voice_controls as voice_controls
from export.app.cli import main

if __name__ == "__main__":
    voice_controls.SUB_OCTAVE_CREDIT = float(os.environ["CREDIT"])
    credit = poly_synth.sub_octave_credit
    poly_synth.sub_octave_credit = lambda *args: np.minimum(1.0, credit(*args))
    sys.exit(main(sys.argv[1:]))
