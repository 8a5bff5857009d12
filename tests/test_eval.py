"""`latentbridge eval`: the report's keys and values on tiny trained models, the spectral distance judge,
and `models list`. Fixtures are rendered and trained at test time."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from export.app.cli import main
from models.judges.spectral_distance import mrstft_distance


def _sine(hz: float, seconds: float = 0.5) -> np.ndarray:
    t = np.arange(int(16000 * seconds)) / 16000
    return (0.5 * np.sin(2 * np.pi * hz * t)).astype(np.float32)


def test_mrstft_distance_orders_signals() -> None:
    a = _sine(440.0)
    noise = np.random.default_rng(0).uniform(-0.5, 0.5, a.shape).astype(np.float32)
    assert mrstft_distance(a, a) == 0.0
    near, far = mrstft_distance(a, 0.5 * a), mrstft_distance(a, noise)
    assert 0.0 < near < far
    # halving white noise (every bin far above the floor) shifts every log-magnitude by ln 2
    assert mrstft_distance(noise, 0.5 * noise) == pytest.approx(np.log(2.0), rel=0.01)


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("eval")
    notes, clips = root / "notes", root / "clips"
    assert main(["dataset", "notes", "--out", str(notes), "--limit", "90", "--pitches", "48:72",
                 "--workers", "1"]) == 0
    assert main(["dataset", "clips", "--out", str(clips), "--clips", "32", "--duration", "2", "--workers", "1",
                 "--no-vocals"]) == 0
    runs = {"autoencoder": ["--per-instrument", "2", "--pitches", "48:72", "--velocities",
                            "25,50,75,100,127", "--note-seconds", "0.5", "--crop-seconds", "0.25",
                            "--batch", "2"],
            "classifier": ["--per-instrument", "3", "--batch", "4"],
            "spectral": ["--per-instrument", "3", "--batch", "2"],
            "tagger": ["--min-count", "1", "--batch", "4"]}
    out = {"notes": notes, "clips": clips}
    for kind, extra in runs.items():
        out[kind] = root / kind
        data = clips if kind == "tagger" else notes
        assert main(["train", kind, "--data", str(data), "--config", "tiny", "--out", str(out[kind]),
                     "--steps", "4", *extra]) == 0
    return out


def test_autoencoder_report(trained: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    report_path = tmp_path / "report.json"
    assert main(["eval", "autoencoder", "--model", str(trained["autoencoder"]), "--classifier",
                 str(trained["classifier"]), "--spectral", str(trained["spectral"]), "--data", str(trained["notes"]),
                 "--notes", "4", "--crepe", "tiny", "--json", "--out", str(report_path), "--plots",
                 str(tmp_path / "plots"), "--audio", str(tmp_path / "wav"), "--audio-notes", "2"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report == json.loads(report_path.read_text())
    assert report["notes"] == 4
    assert set(report["pitch_accuracy"]) == {"original", "reconstruction", "spectral_baseline"}
    assert set(report["family_accuracy"]) == {"original", "reconstruction"}
    assert set(report["mrstft"]) == {"reconstruction", "spectral_baseline"}
    assert report["pitch_accuracy"]["original"] > 0.5  # rendered SoundFont notes are clearly pitched
    assert all(v > 0 for v in report["mrstft"].values())
    interp = report["interpolation"]
    assert interp["alphas"][0] == 0.0 and interp["alphas"][-1] == 1.0 and len(interp["p_family_a"]) == 5
    assert all(Path(p).stat().st_size > 1000 for p in report["plots"])
    assert len(report["audio"]) == 2 * 3 and all(Path(p).suffix == ".wav" for p in report["audio"])


def test_tagger_report(trained: dict[str, Path], capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["eval", "tagger", "--model", str(trained["tagger"]), "--data", str(trained["clips"]),
                 "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["clips"] > 0 and 0.0 <= report["macro_roc_auc"] <= 1.0
    assert set(report["roc_auc"]) <= set(report["positives"])


def test_wrong_kind_is_a_one_line_error(trained: dict[str, Path], capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["eval", "tagger", "--model", str(trained["classifier"]), "--data", str(trained["clips"])]) == 2
    assert "not a tagger one" in capsys.readouterr().err


def test_models_list_json(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["models", "list", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    for row in rows:
        assert {"name", "kind", "path", "format_version", "metrics"} <= set(row)
        assert row["bytes"] is not None and row["bytes"] > 0


def test_speech_wavenet_report(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    speech = tmp_path / "speech"
    assert main(["dataset", "speech", "--out", str(speech), "--speakers", "2", "--utterances", "2",
                 "--workers", "1"]) == 0
    run = tmp_path / "wn"
    assert main(["train", "wavenet", "--data", str(speech), "--config", "tiny_speech", "--out", str(run),
                 "--steps", "2", "--batch", "2", "--crop", "512"]) == 0
    capsys.readouterr()
    assert main(["eval", "wavenet", "--model", str(run), "--data", str(speech), "--seconds", "0.2", "--crepe",
                 "tiny", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert set(report["conditions"]) == {"female", "male"}
    assert len(report["gender_only"]["male"]["per_speaker"]) == 2  # every speaker under each one-hot
    assert sum(len(report["conditions"][g]["per_speaker"]) for g in ("female", "male")) == 2  # own gender
    assert {"difference_hz", "gender_only_difference_hz"} <= set(report)
    assert report["data"]["female"] > report["data"]["male"] + 30.0  # espeak-ng's voices, measured by CREPE
    assert main(["eval", "wavenet", "--model", str(tmp_path / "missing"), "--data", str(speech)]) == 2


def test_classifier_report(trained: dict[str, Path], capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["eval", "classifier", "--model", str(trained["classifier"]), "--data", str(trained["notes"]),
                 "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["notes"] > 0 and 0.0 <= report["family_accuracy"] <= 1.0
    assert set(report["family_accuracy_per_family"]) <= {"bass", "brass", "flute", "guitar", "keyboard", "mallet",
                                                          "organ", "reed", "string", "synth_lead", "vocal"}


def test_models_bundle_writes_a_model_card(trained: dict[str, Path], tmp_path: Path,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    report = tmp_path / "eval.json"
    report.write_text(json.dumps({"family_accuracy": 0.5, "plots": ["/somewhere/a.png"]}))
    args = ["models", "bundle", str(trained["classifier"]), "--name", "judge", "--config-name", "tiny",
            "--data-command", "latentbridge dataset notes --out data/notes", "--train-command", "latentbridge train",
            "--eval", str(report), "--dir", str(tmp_path / "bundled")]
    assert main(args) == 0
    card = json.loads((tmp_path / "bundled" / "judge.json").read_text())
    assert card["kind"] == "classifier" and card["steps"] == 4 and card["file"] == "judge.pt"
    assert card["metrics"] == {"family_accuracy": 0.5}  # paths of the training machine are left out
    assert (tmp_path / "bundled" / "judge.pt").stat().st_size > 0
    assert main(args) == 2 and "already exists" in capsys.readouterr().err
    assert main([*args[:2], str(tmp_path), *args[3:], "--force"]) == 2  # not a training run
