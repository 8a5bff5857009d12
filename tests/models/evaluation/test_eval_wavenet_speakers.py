"""`latentbridge eval wavenet`'s speaker counts (unvoiced speaker ids, ids that follow the other gender's
one-hot), checked against counts made here from the per-speaker rows of the report: on hand-written rows, on
a tiny speech WaveNet trained for two steps, on the same WaveNet made to generate silence, and on a scripted
generator of sines and silence whose counts are known."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from export.app.cli import main
from export.wavenet.kernel import NativeWaveNet
from models.evaluation.eval_wavenet import speaker_counts
from models.wavenet import mu_law

NAN = float("nan")
OTHER = {"female": "male", "male": "female"}


def recount(report: dict[str, Any]) -> dict[str, Any]:
    """The counts, from report["gender_only"] (every id under each one-hot), report["conditions"] (which ids are
    of which gender) and report["data"] alone, as {name: (n, of, speakers)}."""
    own = {s: g for g in OTHER for s in report["conditions"][g]["per_speaker"]}
    counts: dict[str, Any] = {}
    for onehot, other in OTHER.items():
        rows = report["gender_only"][onehot]["per_speaker"]
        silent = [s for s in rows if math.isnan(rows[s])]
        counts[f"gender_only.{onehot}"] = (len(silent), len(rows), silent)
        mine = [s for s in rows if own[s] == onehot]
        counts[f"conditions.{onehot}"] = (len([s for s in mine if s in silent]), len(mine),
                                          [s for s in mine if s in silent])
        voiced = [s for s in rows if own[s] == other and not math.isnan(rows[s])]
        near = [s for s in voiced
                if abs(rows[s] - report["data"][onehot]) < abs(rows[s] - report["data"][other])]
        counts[f"follows.{onehot}"] = (len(near), len(voiced), near)
        counts[f"follows_unvoiced.{onehot}"] = sum(own[s] == other for s in silent)
    return counts


def reported(report: dict[str, Any]) -> dict[str, Any]:
    """The same counts, as the report states them."""
    u, f = report["unvoiced"], report["follows_gender_onehot"]
    counts: dict[str, Any] = {}
    for g in OTHER:
        for part in ("gender_only", "conditions"):
            counts[f"{part}.{g}"] = (u[part][g]["n"], u[part][g]["of"], u[part][g]["speakers"])
        counts[f"follows.{g}"] = (f[g]["n"], f[g]["of"], f[g]["speakers"])
        counts[f"follows_unvoiced.{g}"] = f[g]["unvoiced"]
    assert f["all"]["n"] == f["female"]["n"] + f["male"]["n"] and f["all"]["of"] == f["female"]["of"] + f["male"]["of"]
    return counts


def test_speaker_counts_of_written_rows() -> None:
    """Two female and three male ids: NaN rows are unvoiced; a tie between the two data medians does not follow."""
    own = {"m1": "male", "m2": "male", "m3": "male", "f1": "female", "f2": "female"}
    f0 = {"female": {"m1": 190.0, "m2": 140.0, "m3": NAN, "f1": 210.0, "f2": NAN},
          "male": {"m1": 95.0, "m2": NAN, "m3": 100.0, "f1": 110.0, "f2": 150.0}}
    counts = speaker_counts(f0, own, {"female": 200.0, "male": 100.0})
    u, f = counts["unvoiced"], counts["follows_gender_onehot"]
    assert u["conditions"] == {"female": {"n": 1, "of": 2, "speakers": ["f2"]},
                               "male": {"n": 1, "of": 3, "speakers": ["m2"]}}
    assert u["gender_only"] == {"female": {"n": 2, "of": 5, "speakers": ["m3", "f2"]},
                                "male": {"n": 1, "of": 5, "speakers": ["m2"]}}
    assert f == {"female": {"n": 1, "of": 2, "unvoiced": 1, "speakers": ["m1"]},  # m2 (140 Hz) stays male
                 "male": {"n": 1, "of": 2, "unvoiced": 0, "speakers": ["f1"]},  # f2 (150 Hz): a tie
                 "all": {"n": 2, "of": 4, "speakers": ["m1", "f1"]}}
    assert set(counts["count_definitions"]) == {"unvoiced", "follows_gender_onehot"}
    report = {"conditions": {g: {"per_speaker": {s: f0[g][s] for s in own if own[s] == g}} for g in OTHER},
              "gender_only": {g: {"per_speaker": f0[g]} for g in OTHER}, "data": {"female": 200.0, "male": 100.0},
              **counts}
    assert reported(report) == recount(report)
    nan_data = speaker_counts(f0, own, {"female": NAN, "male": 100.0})["follows_gender_onehot"]
    assert nan_data["female"]["n"] == nan_data["male"]["n"] == 0  # no data median to be nearer to


@pytest.fixture(scope="module")
def speech_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """Four speakers (two female, two male), two utterances each, and a speech WaveNet trained for 2 steps."""
    root = tmp_path_factory.mktemp("speech")
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        assert main(["dataset", "speech", "--out", str(root / "speech"), "--speakers", "4", "--utterances", "2",
                     "--workers", "1"]) == 0
        assert main(["train", "wavenet", "--data", str(root / "speech"), "--config", "tiny_speech", "--out",
                     str(root / "wn"), "--steps", "2", "--batch", "2", "--crop", "512"]) == 0
    finally:
        torch.set_num_threads(threads)
    return root / "speech", root / "wn"


def silenced(run: Path, out: Path) -> Path:
    """A copy of the checkpoint whose output layer always picks mu-law class 128 (a constant 9e-5): silence."""
    state = torch.load(run / "checkpoint.pt", map_location="cpu", weights_only=False)
    weight, bias = state["model"]["head_out.weight"], state["model"]["head_out.bias"]
    state["model"]["head_out.weight"] = torch.zeros_like(weight)
    state["model"]["head_out.bias"] = torch.full_like(bias, -30.0).index_fill_(0, torch.tensor([128]), 30.0)
    out.mkdir()
    torch.save(state, out / "checkpoint.pt")
    return out


# Hz of the scripted generator per (one-hot, speaker id); 0 is silence. p900 and p902 are male, p901 and p903
# female (data medians about 207 and 91 Hz): under the female one-hot p900 follows it and p902 is unvoiced; under
# the male one-hot p903 follows it and p901 stays near its own gender's median.
SCRIPT = {"female": {"p900": 200.0, "p901": 210.0, "p902": 0.0, "p903": 205.0},
          "male": {"p900": 95.0, "p901": 190.0, "p902": 90.0, "p903": 100.0}}


def scripted_generate(speakers: list[str]) -> Any:
    """A stand-in for NativeWaveNet.generate: voice i sings SCRIPT[its one-hot][its speaker id] as mu-law classes."""
    def generate(self: NativeWaveNet, n: int, global_id: np.ndarray, global_vec: np.ndarray,
                 **kwargs: object) -> tuple[np.ndarray, None]:
        t = np.arange(n) / 16000
        rows = [0.5 * np.sin(2 * np.pi * SCRIPT["female" if vec[0] == 1.0 else "male"][speakers[i]] * t)
                for i, vec in zip(global_id, global_vec, strict=True)]
        return mu_law.encode_np(np.stack(rows)).astype(np.int32), None
    return generate


@pytest.mark.parametrize("case", ["trained", "silenced", "scripted"])
def test_speech_report_counts_match_its_rows(case: str, speech_run: tuple[Path, Path], tmp_path: Path,
                                             capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
                                             one_thread: None) -> None:
    data, run = speech_run
    model = silenced(run, tmp_path / "silent") if case == "silenced" else run
    if case == "scripted":
        monkeypatch.setattr(NativeWaveNet, "generate", scripted_generate(["p900", "p901", "p902", "p903"]))
    capsys.readouterr()
    assert main(["eval", "wavenet", "--model", str(model), "--data", str(data), "--seconds", "0.2", "--crepe",
                 "tiny", "--json", "--threads", "1"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert sorted(len(report["conditions"][g]["per_speaker"]) for g in OTHER) == [2, 2]
    assert report["data"]["female"] > report["data"]["male"] + 30.0  # so "nearer" has two distinct targets
    assert reported(report) == recount(report)
    if case == "scripted":
        for g in OTHER:
            rows = report["gender_only"][g]["per_speaker"]
            assert [math.isnan(rows[s]) for s in SCRIPT[g]] == [hz == 0.0 for hz in SCRIPT[g].values()]
            assert all(rows[s] == pytest.approx(hz, rel=0.03) for s, hz in SCRIPT[g].items() if hz)
        assert reported(report) == {
            "gender_only.female": (1, 4, ["p902"]), "conditions.female": (0, 2, []),
            "follows.female": (1, 1, ["p900"]), "follows_unvoiced.female": 1,
            "gender_only.male": (0, 4, []), "conditions.male": (0, 2, []),
            "follows.male": (1, 2, ["p903"]), "follows_unvoiced.male": 0}
    if case == "silenced":  # every id unvoiced under both one-hots: nothing left to follow either
        u, f = report["unvoiced"], report["follows_gender_onehot"]
        assert all(u[part][g]["n"] == u[part][g]["of"] > 0 for part in ("conditions", "gender_only") for g in OTHER)
        assert u["gender_only"]["male"]["n"] == 4 and u["conditions"]["male"]["n"] == 2
        assert [f[g]["of"] for g in OTHER] == [0, 0] and [f[g]["unvoiced"] for g in OTHER] == [2, 2]
        assert math.isnan(report["conditions"]["male"]["median_f0_hz"])
    assert main(["eval", "wavenet", "--model", str(model), "--data", str(data), "--seconds", "0.2", "--crepe",
                 "tiny", "--threads", "1"]) == 0
    text = capsys.readouterr().out
    u = report["unvoiced"]["conditions"]
    assert (f"under their own one-hot female {u['female']['n']}/2" in text
            and f"male {u['male']['n']}/2" in text and "following the other gender's one-hot" in text)
