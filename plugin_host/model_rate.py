"""Run a 16 kHz block process inside a chain at another rate: streaming resampling down, the process, and back
up (pedalboard's StreamResampler, windowed-sinc of 16 taps: 32 samples of look-ahead each way), with a fixed
total delay.

`process(block [n] at rate) -> [n] at rate`. The inner process must return as many samples as it is given
and be delayed by `inner_delay` samples at 16 kHz. The output queue starts with the most samples the
resampler pair ever holds back (measured once, so it never runs dry for any block split); the whole is then
delayed by `delay_samples` at `rate`: the lag of a chirp through queue and resamplers (measured), plus
`inner_delay` scaled to `rate` (rounded where the ratio is not whole).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from pedalboard import Resample
from pedalboard.io import StreamResampler

from export.core.audio_io import MODEL_RATE

QUALITY = Resample.Quality.WindowedSinc16

BlockProcess = Callable[[np.ndarray], np.ndarray]


def _resamplers(rate: int) -> tuple[StreamResampler, StreamResampler]:
    return (StreamResampler(rate, MODEL_RATE, 1, QUALITY), StreamResampler(MODEL_RATE, rate, 1, QUALITY))


def withheld_samples(rate: int) -> int:
    """The most samples (at `rate`) the down/up resampler pair holds back at any point of a stream."""
    down, up = _resamplers(rate)
    held, given, produced = 0, 0, 0
    probe = np.zeros((1, 1), np.float32)
    steady = 0
    while steady < 4 * rate // MODEL_RATE + 8:  # one sample at a time until the hold-back stops growing
        given += 1
        produced += up.process(down.process(probe)).shape[1]
        if given - produced > held:
            held, steady = given - produced, 0
        else:
            steady += 1
    return held


class ModelRateStream:
    """See the module docstring."""

    def __init__(self, rate: int, inner: BlockProcess, inner_delay: int) -> None:
        self.rate, self.inner = rate, inner
        self.same_rate = rate == MODEL_RATE
        lead = 0 if self.same_rate else withheld_samples(rate)
        if not self.same_rate:
            self.down, self.up = _resamplers(rate)
        self.queue = np.zeros(lead, np.float32)
        self.delay_samples = self._measured_delay(lead) + round(inner_delay * rate / MODEL_RATE)

    def _measured_delay(self, lead: int) -> int:
        """The whole-sample lag at which a 100-2000 Hz chirp comes out of fresh resamplers behind `lead` samples."""
        if self.same_rate:
            return 0
        down, up = _resamplers(self.rate)
        n = 8 * lead + self.rate // 10
        t = np.arange(n) / self.rate
        tone = np.sin(2 * np.pi * (100.0 * t + 0.5 * 1900.0 / t[-1] * t * t)).astype(np.float32)
        out = np.concatenate([np.zeros(lead, np.float32), up.process(down.process(tone[None]))[0]])
        span = slice(2 * lead, n - 2 * lead)
        errors = [np.abs(out[span.start + lag: span.stop + lag] - tone[span]).max() for lag in range(2 * lead)]
        return int(np.argmin(errors))

    def process(self, block: np.ndarray) -> np.ndarray:
        if self.same_rate:
            return self.inner(block)
        mono16 = self.down.process(block[None].astype(np.float32, copy=False))[0]
        back = self.up.process(self.inner(mono16)[None])[0] if mono16.shape[0] else np.zeros(0, np.float32)
        joined = np.concatenate([self.queue, back])
        out, self.queue = joined[: block.shape[0]], joined[block.shape[0]:]
        return out
