"""Presets: a chain described in YAML or JSON, validated against `PRESET_SCHEMA` (JSON Schema) with one-line
errors, and built into a `Chain` at a given rate.

    name: guitar-to-reed            # optional; defaults to the file name
    description: ...
    wet: 1.0                        # optional wet/dry mix of the whole chain
    stages:
      - {name: input, kind: gain, parameters: {gain_db: 0}}
      - {name: morph, kind: morph, target: reed, corners: [reed, brass, flute, string],
         parameters: {amount: 0.8}}
      - {name: room, kind: effect, effect: reverb, parameters: {wet_level: 0.2}}
      - {name: echo, kind: effect, effect: delay, tempo_sync: {delay_seconds: 0.75}}  # 3/4 beat

A preset is found by path, or by name among the bundled ones (`plugin_host/presets/*.yaml`). Parameter values
in a preset are checked strictly (unknown names and out-of-range values are errors, not clamped). `tempo_sync`
gives parameters in s, ms or Hz a length in beats (Hz: one cycle per that many beats); they follow the tempo once
one is known (AbletonOSC or /latentbridge/tempo) and keep their preset values until then.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import jsonschema
import yaml

from export.autoencoder.morphing import MAX_ALIGN_ATTACKS_MS
from export.core.errors import LatentbridgeError
from export.poly.poly_synth import DEFAULT_VOICES
from export.wavenet.note_decoders import DECODERS
from plugin_host.chain import Chain
from plugin_host.effect_stage import EFFECTS, EffectStage
from plugin_host.gain_stage import GainStage
from plugin_host.midi_map import parse_midi_map
from plugin_host.midi_pad_stage import DEFAULT_PAD_VOICES, MidiPadStage
from plugin_host.neural_stage import MorphStage, ResynthStage
from plugin_host.parameters import tempo_value
from plugin_host.stage import Stage
from plugin_host.style_stage import METHODS as STYLE_METHODS
from plugin_host.style_stage import MODES as STYLE_MODES
from plugin_host.style_stage import build_style_stage
from plugin_host.tagger_stage import TaggerStage
from plugin_host.vst3_stage import Vst3Stage

PRESET_DIR = Path(__file__).with_name("presets")
NAME = {"type": "string", "pattern": "^[A-Za-z0-9_-]+$"}
PRESET_SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "type": "object",
    "required": ["stages"],
    "additionalProperties": False,
    "properties": {
        "name": {"type": "string"},
        "description": {"type": "string"},
        "wet": {"type": "number", "minimum": 0, "maximum": 1},
        "stages": {"type": "array", "items": {"$ref": "#/$defs/stage"}},
        "midi_map": {"type": "array"},  # entries checked against the chain by plugin_host.midi_map
    },
    "$defs": {
        "stage": {
            "type": "object",
            "required": ["name", "kind"],
            "additionalProperties": False,
            "properties": {
                "name": NAME,
                "kind": {"enum": ["gain", "effect", "vst3", "resynth", "morph", "tagger", "midi_pad", "style"]},
                "bypass": {"type": "boolean"},
                "parameters": {"type": "object", "additionalProperties": {"type": "number"}},
                "tempo_sync": {"type": "object", "additionalProperties": {"type": "number", "exclusiveMinimum": 0}},
                "effect": {"enum": sorted(EFFECTS)},
                "path": {"type": "string"},
                "model": {"type": "string"},
                "bank": {"type": "string"},
                "target": {"type": "string"},
                "corners": {"type": "array", "items": {"type": "string"}, "minItems": 4, "maxItems": 4},
                "every_s": {"type": "number", "minimum": 0.1, "maximum": 10},
                "voices": {"enum": ["mono", "poly"]},
                "max_voices": {"type": "integer"},
                "decoder": {"enum": list(DECODERS)},
                "align_attacks_ms": {"type": "number", "minimum": 0, "maximum": MAX_ALIGN_ATTACKS_MS},
                "style": {"type": "string"},
                "method": {"enum": list(STYLE_METHODS)},
                "mode": {"enum": list(STYLE_MODES)},
                "iterations": {"type": "integer", "minimum": 1},
                "window_s": {"type": "number", "minimum": 0.5, "maximum": 10},
                "overlap_s": {"type": "number", "minimum": 0.01, "maximum": 5},
                "seed": {"type": "integer"},
            },
            "allOf": [
                {"if": {"properties": {"kind": {"const": "effect"}}}, "then": {"required": ["effect"]}},
                {"if": {"properties": {"kind": {"const": "vst3"}}}, "then": {"required": ["path"]}},
                {"if": {"properties": {"kind": {"const": "morph"}}}, "then": {"required": ["target"]}},
                {"if": {"properties": {"kind": {"const": "midi_pad"}}}, "then": {"required": ["target"]}},
                {"if": {"properties": {"kind": {"const": "style"}, "mode": {"const": "offline"}}},
                 "then": {"required": ["style"]}},
                {"if": {"properties": {"kind": {"const": "style"}, "mode": {"const": "live"}}, "required": ["mode"]},
                 "then": {"required": ["model"]}},
            ],
        },
    },
}

Builder = Callable[[dict[str, Any], int], Stage]
BUILDERS: dict[str, Builder] = {
    "gain": lambda s, rate: GainStage(s["name"], rate),
    "effect": lambda s, rate: EffectStage(s["name"], rate, s["effect"]),
    "vst3": lambda s, rate: Vst3Stage(s["name"], rate, s["path"]),
    "resynth": lambda s, rate: ResynthStage(s["name"], rate, s.get("model"), None, s.get("voices", "mono"),
                                            s.get("max_voices", DEFAULT_VOICES), s.get("decoder", "harmonic"),
                                            s.get("align_attacks_ms", 0.0)),
    "morph": lambda s, rate: MorphStage(s["name"], rate, s["target"], s.get("corners"), s.get("model"),
                                        s.get("bank"), s.get("voices", "mono"), s.get("max_voices", DEFAULT_VOICES),
                                        s.get("decoder", "harmonic"), s.get("align_attacks_ms", 0.0)),
    "midi_pad": lambda s, rate: MidiPadStage(s["name"], rate, s["target"], s.get("corners"), s.get("model"),
                                             s.get("bank"), s.get("max_voices", DEFAULT_PAD_VOICES)),
    "tagger": lambda s, rate: TaggerStage(s["name"], rate, s.get("model"), s.get("every_s", 0.5)),
    "style": lambda s, rate: build_style_stage(s, rate, offline=False),
}
# Stages that only an offline render can run (`build_chain(..., offline=True)`); the live engine refuses them.
OFFLINE_BUILDERS: dict[str, Builder] = {"style": lambda s, rate: build_style_stage(s, rate, offline=True)}


def preset_path(name_or_path: str | Path) -> Path:
    """A preset file by path or bundled name (one-line error listing the bundled ones)."""
    path = Path(name_or_path)
    if path.suffix.lower() in (".yaml", ".yml", ".json") or path.exists():
        if not path.is_file():
            raise LatentbridgeError(f"{path}: no such preset file")
        return path
    bundled = PRESET_DIR / f"{name_or_path}.yaml"
    if not bundled.is_file():
        raise LatentbridgeError(f"unknown preset {str(name_or_path)!r} (bundled: {', '.join(bundled_names())})")
    return bundled


def bundled_names() -> list[str]:
    return sorted(p.stem for p in PRESET_DIR.glob("*.yaml"))


def read_preset(name_or_path: str | Path) -> dict[str, Any]:
    """Parse and validate a preset; returns its dict (with `name` filled in)."""
    path = preset_path(name_or_path)
    try:
        text = path.read_text(encoding="utf-8")
        data = json.loads(text) if path.suffix.lower() == ".json" else yaml.safe_load(text)
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, yaml.YAMLError) as exc:
        raise LatentbridgeError(f"{path}: not a readable preset ({str(exc).splitlines()[0]})") from exc
    try:
        jsonschema.validate(data, PRESET_SCHEMA)
    except jsonschema.ValidationError as exc:
        where = "/".join(str(p) for p in exc.absolute_path) or "top level"
        raise LatentbridgeError(f"{path}: {where}: {exc.message}") from exc
    return {"name": path.stem, **data}


def build_chain(preset: dict[str, Any], rate: int, offline: bool = False) -> Chain:
    """A validated preset dict -> Chain at `rate` (parameter values checked against each stage's table);
    `offline` (render) also builds stages the live engine cannot run (an offline style stage)."""
    stages: list[Stage] = []
    sync: dict[tuple[str, str], float] = {}
    for spec in preset["stages"]:
        builder = OFFLINE_BUILDERS.get(spec["kind"]) if offline else None
        stage = (builder or BUILDERS[spec["kind"]])(spec, rate)
        for name, value in spec.get("parameters", {}).items():
            if name not in stage.params:
                raise LatentbridgeError(f"preset {preset['name']}: stage {stage.name} has no parameter {name!r} "
                                        f"(has: {', '.join(stage.params) or 'none'})")
            p = stage.params[name].spec
            if not p.low <= value <= p.high:
                raise LatentbridgeError(f"preset {preset['name']}: {stage.name}/{name} = {value} is outside "
                                        f"[{p.low:g}, {p.high:g}]")
            stage.params[name].set(value)
            stage.params[name].current = stage.params[name].target  # a preset starts at its values
        for name, beats in spec.get("tempo_sync", {}).items():
            sync[(stage.name, name)] = _synced(preset["name"], stage, name, beats)
        stage.bypassed = bool(spec.get("bypass", False))
        stages.append(stage)
    chain = Chain(stages, rate, name=preset["name"], wet=float(preset.get("wet", 1.0)), tempo_sync=sync)
    chain.midi_map = parse_midi_map(preset.get("midi_map", []), chain, preset["name"])
    return chain


def _synced(preset: str, stage: Stage, name: str, beats: float) -> float:
    """A checked `tempo_sync` entry: a parameter of the stage, in a unit that can follow a tempo, beats > 0."""
    where = f"preset {preset}: stage {stage.name}: tempo_sync {name}"
    if name not in stage.params:
        raise LatentbridgeError(f"{where}: no such parameter (has: {', '.join(stage.params) or 'none'})")
    try:
        tempo_value(stage.params[name].spec.unit, 1.0, 120.0)  # refuses a unit that cannot follow a tempo
    except LatentbridgeError as exc:
        raise LatentbridgeError(f"{where}: {exc}") from exc
    if not (math.isfinite(beats) and beats > 0):
        raise LatentbridgeError(f"{where}: beats must be a finite number > 0, got {beats}")
    return float(beats)


def load_chain(name_or_path: str | Path, rate: int) -> Chain:
    return build_chain(read_preset(name_or_path), rate)
