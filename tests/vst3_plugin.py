"""Test helper: build the VST3 test plugin (tests/vst3_fixture/test_gain_plugin.c) into a bundle, and drive it
directly through its C ABI with ctypes, for what pedalboard never does (points at sample offsets, flushes, nulls).

Bundles use the Linux layout `<Name>.vst3/Contents/<machine>-linux/<Name>.so`. The raw driver takes and gives
float32 audio [channels, n]; parameter values are the plugin's normalised 0..1; results are VST3 tresults
(0 ok/true, 1 false, -1 no interface, 2 invalid argument, 3 not implemented).
"""

from __future__ import annotations

import ctypes as C
import platform
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

NAME = "LatentbridgeTestGain"
SOURCE = Path(__file__).with_name("vst3_fixture") / "test_gain_plugin.c"
CFLAGS = ("-std=c11", "-shared", "-fPIC", "-O2", "-Wall", "-Wextra")
MONO, STEREO = 1 << 19, 0x3  # SpeakerArr::kMono, kStereo


def build_test_plugin(out_dir: Path, extra_flags: tuple[str, ...] = ()) -> Path:
    """Compile the plugin into `out_dir/LatentbridgeTestGain.vst3` and return the bundle (one-line RuntimeError)."""
    compiler = shutil.which("gcc")
    if compiler is None:
        raise RuntimeError("gcc is not installed, so the VST3 test plugin cannot be built (apt-get install gcc)")
    binary = out_dir / f"{NAME}.vst3" / "Contents" / f"{platform.machine()}-linux" / f"{NAME}.so"
    binary.parent.mkdir(parents=True, exist_ok=True)
    done = subprocess.run([compiler, *CFLAGS, *extra_flags, "-o", str(binary), str(SOURCE), "-lm"],
                          capture_output=True, text=True)
    if done.returncode != 0:
        lines = [line.strip() for line in done.stderr.splitlines() if line.strip()] or ["(no compiler output)"]
        first_error = next((line for line in lines if "error" in line), lines[0])
        raise RuntimeError(f"building the VST3 test plugin failed: {first_error}")
    return binary.parents[2]


def uid(*words: int) -> bytes:
    """INLINE_UID's layout on Linux (not COM-compatible): each 32-bit word big-endian."""
    return b"".join(w.to_bytes(4, "big") for w in words)


IID_COMPONENT = uid(0xE831FF31, 0xF2D54301, 0x928EBBEE, 0x25697802)
IID_PROCESSOR = uid(0x42043F99, 0xB7DA453C, 0xA569E79D, 0x9AAEC33D)
IID_CONTROLLER = uid(0xDCD7BBE3, 0x7742448D, 0xA874AACC, 0x979C759E)
IID_FACTORY2 = uid(0x0007B650, 0xF24B4C0B, 0xA464EDB9, 0xF00B2ABB)
IID_CONNECTION_POINT = uid(0x70A4156F, 0x6E6E4026, 0x989148BF, 0xAA60D8D1)
CID_TEST_GAIN = uid(0x4C425447, 0x61696E31, 0x56535433, 0x46697874)

I32, U32, F64, P = C.c_int32, C.c_uint32, C.c_double, C.c_void_p


def call(obj: int, index: int, restype: Any, argtypes: tuple[Any, ...], *args: Any) -> Any:
    """Call vtable slot `index` of the C object at `obj` (0-2 are FUnknown's)."""
    vtable = C.cast(obj, C.POINTER(C.POINTER(P)))[0]
    return C.CFUNCTYPE(restype, P, *argtypes)(vtable[index])(obj, *args)


class HostObject:
    """A C object whose vtable holds Python callbacks: FUnknown (no other interfaces; lifetime is Python's)."""

    def __init__(self, methods: list[tuple[tuple[Any, ...], Callable[..., Any]]]) -> None:
        def query(_self: int, _iid: int, out: Any) -> int:
            out[0] = None
            return -1

        slots: list[tuple[tuple[Any, ...], Callable[..., Any]]] = [
            ((I32, P, P, C.POINTER(P)), query), ((U32, P), lambda _s: 1), ((U32, P), lambda _s: 1), *methods]
        self._callbacks = [C.CFUNCTYPE(*signature)(fn) for signature, fn in slots]
        self._vtable = (P * len(slots))(*(C.cast(f, P).value for f in self._callbacks))
        self._object = P(C.addressof(self._vtable))
        self.ptr = C.addressof(self._object)


class MemoryStream(HostObject):
    """IBStream over a bytearray."""

    def __init__(self, data: bytes = b"") -> None:
        self.data, self.pos = bytearray(data), 0
        rw = (I32, P, P, I32, C.POINTER(I32))
        super().__init__([(rw, self._read), (rw, self._write),
                          ((I32, P, C.c_int64, I32, C.POINTER(C.c_int64)), self._seek),
                          ((I32, P, C.POINTER(C.c_int64)), self._tell)])

    def _read(self, _s: int, buffer: int, n: int, done: Any) -> int:
        chunk = bytes(self.data[self.pos: self.pos + max(0, n)])
        C.memmove(buffer, chunk, len(chunk))
        self.pos += len(chunk)
        if done:
            done[0] = len(chunk)
        return 0

    def _write(self, _s: int, buffer: int, n: int, done: Any) -> int:
        self.data[self.pos: self.pos + n] = C.string_at(buffer, n)
        self.pos += n
        if done:
            done[0] = n
        return 0

    def _seek(self, _s: int, pos: int, mode: int, result: Any) -> int:
        self.pos = max(0, min(len(self.data), pos + (0, self.pos, len(self.data))[mode]))
        if result:
            result[0] = self.pos
        return 0

    def _tell(self, _s: int, pos: Any) -> int:
        pos[0] = self.pos
        return 0


class ParameterChanges(HostObject):
    """IParameterChanges with one IParamValueQueue per id: {id: [(sample offset, normalised value), ...]}."""

    def __init__(self, points: dict[int, list[tuple[int, float]]]) -> None:
        self.queues = [self._queue(pid, pts) for pid, pts in points.items()]
        super().__init__([((I32, P), lambda _s: len(self.queues)),
                          ((P, P, I32), lambda _s, i: self.queues[i].ptr if 0 <= i < len(self.queues) else None),
                          ((P, P, P, P), lambda _s, _id, _index: None)])

    @staticmethod
    def _queue(pid: int, pts: list[tuple[int, float]]) -> HostObject:
        def get_point(_s: int, i: int, offset: Any, value: Any) -> int:
            if not 0 <= i < len(pts):
                return 2
            offset[0], value[0] = pts[i]
            return 0

        return HostObject([((U32, P), lambda _s: pid), ((I32, P), lambda _s: len(pts)),
                           ((I32, P, I32, C.POINTER(I32), C.POINTER(F64)), get_point),
                           ((I32, P, I32, F64, C.POINTER(I32)), lambda *_: 1)])


class BusBuffers(C.Structure):
    _fields_ = [("num_channels", I32), ("silence_flags", C.c_uint64), ("channels", C.POINTER(C.POINTER(C.c_float)))]


class ProcessData(C.Structure):
    _fields_ = [("process_mode", I32), ("sample_size", I32), ("num_samples", I32), ("num_inputs", I32),
                ("num_outputs", I32), ("inputs", C.POINTER(BusBuffers)), ("outputs", C.POINTER(BusBuffers)),
                ("input_changes", P), ("output_changes", P), ("input_events", P), ("output_events", P),
                ("context", P)]


class ProcessSetup(C.Structure):
    _fields_ = [("process_mode", I32), ("sample_size", I32), ("max_block", I32), ("sample_rate", F64)]


def _bus(audio: np.ndarray | None) -> BusBuffers:
    if audio is None:
        return BusBuffers(0, 0, None)
    rows = (C.POINTER(C.c_float) * audio.shape[0])(*(row.ctypes.data_as(C.POINTER(C.c_float)) for row in audio))
    bus = BusBuffers(audio.shape[0], 0, rows)
    bus._rows = rows  # keep the pointer array alive with the struct
    return bus


class RawPlugin:
    """One plugin instance made by the module's factory, as its component, processor and controller interfaces."""

    def __init__(self, bundle: Path) -> None:
        self.lib = C.CDLL(str(next((bundle / "Contents").glob("*-linux/*.so"))))
        self.lib.ModuleEntry.restype, self.lib.ModuleEntry.argtypes = C.c_bool, [P]
        self.lib.GetPluginFactory.restype = P
        assert self.lib.ModuleEntry(None)
        self.factory: int = self.lib.GetPluginFactory()
        assert self.factory, "GetPluginFactory returned NULL"
        out = P()
        assert self.factory_call(6, I32, (C.c_char_p, C.c_char_p, C.POINTER(P)), CID_TEST_GAIN, IID_COMPONENT,
                                 C.byref(out)) == 0
        assert out.value is not None
        self.component: int = out.value
        processor, controller = self.query(self.component, IID_PROCESSOR), self.query(self.component, IID_CONTROLLER)
        assert processor is not None and controller is not None
        self.processor: int = processor
        self.controller: int = controller

    def factory_call(self, index: int, restype: Any, argtypes: tuple[Any, ...], *args: Any) -> Any:
        return call(self.factory, index, restype, argtypes, *args)

    @staticmethod
    def query(obj: int, iid: bytes) -> int | None:
        """queryInterface: the interface pointer (one reference more) or None."""
        out = P(1)
        result = call(obj, 0, I32, (C.c_char_p, C.POINTER(P)), iid, C.byref(out))
        assert (result == 0) == (out.value is not None), "queryInterface must set *obj to NULL when it fails"
        return out.value

    @staticmethod
    def release(obj: int) -> int:
        return call(obj, 2, U32, ())

    def close(self) -> int:
        """Drop this driver's three references; returns what the last release returned (0: freed)."""
        self.release(self.controller)
        self.release(self.processor)
        left = self.release(self.component)
        self.release(self.factory)
        return left

    def arrange(self, inputs: list[int], outputs: list[int]) -> int:
        ins, outs = (C.c_uint64 * max(1, len(inputs)))(*inputs), (C.c_uint64 * max(1, len(outputs)))(*outputs)
        return call(self.processor, 3, I32, (P, I32, P, I32), ins, len(inputs), outs, len(outputs))

    def arrangement(self, direction: int) -> int:
        arr = C.c_uint64()
        assert call(self.processor, 4, I32, (I32, I32, C.POINTER(C.c_uint64)), direction, 0, C.byref(arr)) == 0
        return arr.value

    def start(self, arrangement: int = MONO, rate: float = 48000.0, block: int = 4096) -> None:
        """initialize, bus arrangement, setupProcessing, setActive(1), setProcessing(1)."""
        assert call(self.component, 3, I32, (P,), None) == 0
        assert self.arrange([arrangement], [arrangement]) == 0
        assert self.setup(0, block, rate) == 0
        assert call(self.component, 11, I32, (C.c_uint8,), 1) == 0
        assert call(self.processor, 8, I32, (C.c_uint8,), 1) == 0

    def stop(self) -> None:
        assert call(self.processor, 8, I32, (C.c_uint8,), 0) == 0
        assert call(self.component, 11, I32, (C.c_uint8,), 0) == 0
        assert call(self.component, 4, I32, ()) == 0

    def setup(self, sample_size: int, block: int = 4096, rate: float = 48000.0) -> int:
        setup = ProcessSetup(2, sample_size, block, rate)
        return call(self.processor, 7, I32, (C.POINTER(ProcessSetup),), C.byref(setup))

    def process(self, audio: np.ndarray | None, points: dict[int, list[tuple[int, float]]] | None = None,
                num_samples: int | None = None, sample_size: int = 0, in_place: bool = False,
                null_buses: bool = False) -> tuple[int, np.ndarray]:
        """One process() call; returns (result, output [channels, n], empty without audio). `audio` None: no
        audio buses at all; `null_buses`: one input and one output bus announced but their pointers NULL."""
        x = None if audio is None else np.ascontiguousarray(audio, dtype=np.float32).copy()
        y = x if in_place or x is None else np.zeros_like(x)
        ins, outs = _bus(x), _bus(y)
        changes = ParameterChanges(points) if points is not None else None
        n = num_samples if num_samples is not None else (0 if x is None else x.shape[1])
        buses = 1 if x is not None or null_buses else 0
        data = ProcessData(2, sample_size, n, buses, buses, None if null_buses else C.pointer(ins),
                           None if null_buses else C.pointer(outs), changes.ptr if changes else None,
                           None, None, None, None)
        result = call(self.processor, 9, I32, (C.POINTER(ProcessData),), C.byref(data))
        return result, np.zeros((0, 0), np.float32) if y is None else y

    def get_state(self) -> bytes:
        stream = MemoryStream()
        assert call(self.component, 13, I32, (P,), stream.ptr) == 0
        return bytes(stream.data)

    def set_state(self, data: bytes, controller: bool = False) -> int:
        """IComponent::setState, or IEditController::setComponentState when `controller`."""
        obj, index = (self.controller, 5) if controller else (self.component, 12)
        return call(obj, index, I32, (P,), MemoryStream(data).ptr)

    def text(self, pid: int, value: float) -> str:
        out = (C.c_uint16 * 128)()
        assert call(self.controller, 10, I32, (U32, F64, P), pid, value, out) == 0
        return "".join(map(chr, out[: list(out).index(0)]))

    def value_for(self, pid: int, text: str) -> float | None:
        """getParamValueByString, or None where the plugin refuses the text."""
        value = F64()
        chars = (C.c_uint16 * (len(text) + 1))(*map(ord, text), 0)
        result = call(self.controller, 11, I32, (U32, P, C.POINTER(F64)), pid, chars, C.byref(value))
        return value.value if result == 0 else None

    def normalised(self, pid: int) -> float:
        return call(self.controller, 14, F64, (U32,), pid)

    def set_normalised(self, pid: int, value: float) -> int:
        return call(self.controller, 15, I32, (U32, F64), pid, value)
