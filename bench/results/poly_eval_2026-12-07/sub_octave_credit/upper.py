"""Scratch: `latentbridge ARGS` with the sub-octave credit plus an upper-partial credit (UPPER=scale): a sounding
voice at the 2nd..6th harmonic of a sounding lower voice u is credited with scale times the fraction of the power
at its harmonics that exceeds what u's neighbouring harmonics predict (geometric mean of harmonics kh-1 and kh+1
of u), on the 2048-sample spectrum: a false partial (u's own smooth envelope) gets little, a real note on top of u
keeps its excess."""
import os
import sys

import numpy as np

import export.poly.poly_synth as ps
import export.poly.voice_controls as vc
from export.app.cli import main

SCALE = float(os.environ["UPPER"])
RATIOS = np.arange(2, 7)


def power_at(magnitude, hz, bin_hz):
    return np.interp(hz / bin_hz, np.arange(magnitude.shape[0]), magnitude.astype(np.float64) ** 2)


def upper_credit(magnitude, f0, sounding, bin_hz):
    f0 = np.asarray(f0, np.float64)
    out = np.ones(f0.shape[0])
    semis = 12.0 * np.log2(np.maximum(f0, 1e-3))
    for v in np.flatnonzero(sounding):
        for u in np.flatnonzero(sounding):
            if u == v:
                continue
            gap = semis[v] - semis[u]
            h = RATIOS[np.abs(gap - 12 * np.log2(RATIOS)) <= 0.35]
            if h.size == 0:
                continue
            h = int(h[0])
            k = np.arange(1, vc.MAX_HARMONICS + 1)
            hz = k * f0[v]
            ok = hz <= vc.MAX_HARMONIC_HZ
            p = power_at(magnitude, hz, bin_hz) * ok
            lo = power_at(magnitude, (k * h - 1) * f0[u], bin_hz)
            hi = power_at(magnitude, (k * h + 1) * f0[u], bin_hz)
            excess = np.maximum(0.0, p - np.sqrt(lo * hi)) * ok
            total = p.sum()
            out[v] = min(out[v], SCALE * excess.sum() / total if total > 0 else 0.0)
    return np.minimum(1.0, out)


if __name__ == "__main__":
    credit = ps.sub_octave_credit
    ps.sub_octave_credit = lambda m, f0, s, b: credit(m, f0, s, b) * upper_credit(m, f0, s, b)
    sys.exit(main(sys.argv[1:]))
