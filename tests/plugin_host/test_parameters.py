"""Stage parameters: curves between normalised and native units, clamping of bad values, smoothing."""

from __future__ import annotations

import math

import numpy as np
import pytest

from export.core.errors import LatentbridgeError
from plugin_host.parameters import Parameter, ParameterValue


def test_curves_round_trip_and_hit_the_ends() -> None:
    cutoff = Parameter("cutoff", 20.0, 20000.0, 1000.0, "Hz", curve="log")
    amount = Parameter("amount", 0.0, 1.0, 0.0)
    for p in (cutoff, amount):
        assert p.from_normalised(0.0) == pytest.approx(p.low) and p.from_normalised(1.0) == pytest.approx(p.high)
        for x in (0.0, 0.1, 0.5, 0.93, 1.0):
            assert p.to_normalised(p.from_normalised(x)) == pytest.approx(x, abs=1e-12)
    assert cutoff.from_normalised(0.5) == pytest.approx(math.sqrt(20.0 * 20000.0))  # equal ratios per step
    assert amount.from_normalised(0.25) == pytest.approx(0.25)
    assert cutoff.display(440.0) == "440 Hz" and amount.display(0.5) == "0.5"


def test_bad_values_are_clamped_not_raised() -> None:
    gain = Parameter("gain", -60.0, 12.0, 0.0, "dB", curve="db")
    value = ParameterValue(gain)
    assert value.set(100.0) == 12.0 and value.set(-1e9) == -60.0
    assert value.set(float("nan")) == 0.0 and value.set(float("inf")) == 12.0 and value.set(-float("inf")) == -60.0
    assert value.set_normalised(7.0) == 12.0 and value.set_normalised(float("nan")) == -60.0


def test_smoothing_ramps_without_steps_and_settles() -> None:
    value = ParameterValue(Parameter("amount", 0.0, 1.0, 0.0, smoothing_s=0.01))
    value.set(1.0)
    ramp = np.concatenate([value.block(256, 48000.0) for _ in range(40)])  # 21 time constants
    assert np.all(np.diff(ramp) >= 0) and np.all(np.diff(ramp[:2000]) > 0)  # monotonic, no zipper steps
    assert np.max(np.diff(ramp)) < 0.003  # the largest step of a 10 ms one-pole at 48 kHz is 1 / 480
    t63 = int(np.argmax(ramp >= 1 - math.exp(-1)))  # one time constant: 480 samples
    assert abs(t63 - 480) <= 2
    assert value.current == 1.0 and np.all(value.block(64, 48000.0) == 1.0)  # settled: constant blocks
    instant = ParameterValue(Parameter("x", 0.0, 1.0, 0.0, smoothing_s=0.0))
    instant.set(0.7)
    assert np.all(instant.block(8, 48000.0) == np.float32(0.7))


def test_invalid_descriptions_are_one_line_errors() -> None:
    for kwargs, message in (({"low": 1.0, "high": 1.0}, "low < high"), ({"curve": "cubic"}, "curve must be"),
                            ({"low": 0.0, "curve": "log"}, "log curve needs"), ({"default": 5.0}, "outside"),
                            ({"name": "a/b"}, "no '/'"), ({"smoothing_s": -1.0}, "smoothing_s")):
        args = {"name": "p", "low": 0.0, "high": 1.0, "default": 0.5, **kwargs}
        with pytest.raises(LatentbridgeError, match=message):
            Parameter(**args)
