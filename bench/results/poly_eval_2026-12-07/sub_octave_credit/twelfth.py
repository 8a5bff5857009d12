"""Scratch: `latentbridge ARGS` with sub_octave_credit also crediting a voice a twelfth (19.02 semitones, m = 3)
below another sounding voice (TWELFTH=1), or a fifth-related 3:2 pair (not here)."""
import sys

import numpy as np

import export.poly.poly_synth as ps
import export.poly.voice_controls as vc
from export.app.cli import main

RELATIONS = ((12.0, 2), (24.0, 4), (12 * np.log2(3), 3))


def credit(magnitude, f0, sounding, bin_hz):
    f0 = np.asarray(f0, np.float64)
    out = np.ones(f0.shape[0])
    semis = 12.0 * np.log2(np.maximum(f0, 1e-3))
    above = np.where(sounding[None, :], semis[None, :] - semis[:, None], np.nan)
    m = np.zeros(f0.shape[0], int)
    for interval, mult in reversed(RELATIONS):  # the octave wins where several apply
        hit = sounding & (np.abs(above - interval) <= vc.SUB_OCTAVE_TOLERANCE).any(axis=1)
        m = np.where(hit, mult, m)
    below = np.flatnonzero(m > 0)
    if below.size == 0:
        return out
    bins, usable = vc._harmonic_bins(f0[below], bin_hz)
    power = np.interp(bins, np.arange(magnitude.shape[0]), magnitude.astype(np.float64) ** 2) * usable
    own = (power * (np.arange(1, vc.MAX_HARMONICS + 1)[None, :] % m[below][:, None] != 0)).sum(axis=1)
    total = power.sum(axis=1)
    out[below] = vc.SUB_OCTAVE_CREDIT * np.divide(own, total, out=np.zeros_like(own), where=total > 0)
    return out


if __name__ == "__main__":
    ps.sub_octave_credit = credit
    sys.exit(main(sys.argv[1:]))
