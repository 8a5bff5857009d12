"""`latentbridge eval`: the report's keys and values on tiny trained models, the spectral distance judge,
and `models list`. Fixtures are rendered and trained at test time."""

from __future__ import annotations

import csv
import json
import re
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from export.app.cli import main
from export.core.audio_io import read_mono
from models.judges.spectral_distance import mrstft_distance
from models.training.checkpoint import load_model


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
    assert report["plots"] and all(Path(p).stat().st_size > 1000 for p in report["plots"])
    assert len(report["audio"]) == 2 * 3 and all(Path(p).suffix == ".wav" for p in report["audio"])


def held_out_clips(root: Path, names: tuple[str, ...]) -> tuple[list[Path], np.ndarray]:
    """The test clips and their 0/1 rows for `names`, read from annotations_final.csv directly (the MTAT split:
    hex folders d-f are test), not through the dataset reader."""
    with (root / "annotations_final.csv").open(newline="") as f:
        rows = [r for r in csv.DictReader(f, delimiter="\t") if r["mp3_path"][0] in "def"]
    paths = [root / r["mp3_path"] for r in rows]
    paths = [p if p.is_file() else p.with_suffix(".wav") for p in paths]
    return paths, np.array([[int(r[t]) for t in names] for r in rows]).reshape(len(rows), len(names))


def pairwise_auc(labels: np.ndarray, scores: np.ndarray) -> float:
    """P(a positive outscores a negative), ties 1/2, by counting every pair."""
    pos, neg = scores[labels == 1], scores[labels == 0]
    return float(((pos[:, None] > neg[None]).sum() + 0.5 * (pos[:, None] == neg[None]).sum()) / (pos.size * neg.size))


def tagger_report(trained: dict[str, Path], capsys: pytest.CaptureFixture[str]) -> dict[str, Any]:
    assert main(["eval", "tagger", "--model", str(trained["tagger"]), "--data", str(trained["clips"]),
                 "--json"]) == 0
    return json.loads(capsys.readouterr().out)


def test_tagger_report_is_the_pairwise_auc_of_the_models_scores(trained: dict[str, Path],
                                                                 capsys: pytest.CaptureFixture[str]) -> None:
    report = tagger_report(trained, capsys)
    model, _ = load_model(trained["tagger"], "tagger")
    paths, labels = held_out_clips(trained["clips"], model.cfg.tag_names)
    assert report["clips"] == len(paths) > 0
    assert report["positives"] == dict(zip(model.cfg.tag_names, labels.sum(axis=0).tolist(), strict=True))
    scores = np.stack([model.predict_clip(read_mono(p, 16000)) for p in paths])  # as many threads as eval used
    scorable = [k for k in range(labels.shape[1]) if 0 < labels[:, k].sum() < labels.shape[0]]
    assert scorable and set(report["roc_auc"]) == {model.cfg.tag_names[k] for k in scorable}
    want = {model.cfg.tag_names[k]: pairwise_auc(labels[:, k], scores[:, k]) for k in scorable}
    assert report["roc_auc"] == pytest.approx(want, abs=1e-9)
    assert report["macro_roc_auc"] == pytest.approx(np.mean(list(want.values())), abs=1e-9)


@pytest.mark.parametrize("oracle, auc", [("perfect", 1.0), ("inverted", 0.0), ("constant", 0.5)])
def test_tagger_report_of_an_oracle(oracle: str, auc: float, trained: dict[str, Path],
                                    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    """A tagger that answers each clip's true tags scores 1 (and average precision 1), one that answers the
    opposite 0, one that answers the same for every clip 1/2: the report pairs the right scores with the right
    labels."""
    from models.tagger.model import SampleCNN

    model, _ = load_model(trained["tagger"], "tagger")
    paths, labels = held_out_clips(trained["clips"], model.cfg.tag_names)
    truth = {read_mono(p, 16000).tobytes(): row for p, row in zip(paths, labels, strict=True)}
    answer = {"perfect": lambda row: row, "inverted": lambda row: 1 - row, "constant": lambda row: 0 * row + 0.3}
    monkeypatch.setattr(SampleCNN, "predict_clip",
                        lambda self, audio, *a, **k: answer[oracle](truth[audio.tobytes()]).astype(float))
    report = tagger_report(trained, capsys)
    assert report["roc_auc"] and set(report["roc_auc"].values()) == {auc}
    assert report["macro_roc_auc"] == auc
    if oracle == "perfect":
        assert set(report["pr_auc"].values()) == {1.0}


def test_wrong_kind_is_a_one_line_error(trained: dict[str, Path], capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["eval", "tagger", "--model", str(trained["classifier"]), "--data", str(trained["clips"])]) == 2
    assert "not a tagger one" in capsys.readouterr().err


def test_models_list_json(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["models", "list", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert {"ae_default", "tagger_default", "classifier_default"} <= {row["name"] for row in rows}
    for row in rows:
        assert {"name", "kind", "path", "format_version", "metrics"} <= set(row)
        assert row["bytes"] is not None and row["bytes"] > 0


def test_models_list_table_gives_the_tracker_its_f1_beside_basic_pitch(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["models", "list"]) == 0
    line = next(row for row in capsys.readouterr().out.splitlines() if row.startswith("poly_default"))
    assert re.search(r"ours frame F1 0\.\d{3} note-onset F1 0\.\d{3}, basic_pitch frame F1 0\.\d{3}", line)


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
    assert report["notes"] > 0 and report["family_accuracy_per_family"]
    assert set(report["family_accuracy_per_family"]) <= {"bass", "brass", "flute", "guitar", "keyboard", "mallet",
                                                          "organ", "reed", "string", "synth_lead", "vocal"}


def test_classifier_report_leaves_out_held_out_instruments_with_a_train_twin(
        trained: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A train instrument re-listed as the same program of the same font as a test instrument (under another
    font's name) is its twin: the report names the pair and scores the test split without that instrument."""
    notes = tmp_path / "notes"
    shutil.copytree(trained["notes"], notes)
    index = json.loads((notes / "instruments.json").read_text())
    held = json.loads((notes / "test" / "examples.json").read_text())
    held_name = sorted({e["instrument_str"] for e in held.values()})[0]
    twin = next(n for n, info in sorted(index.items()) if info["split"] == "train")
    index[twin] |= {"program": index[held_name]["program"], "soundfont_path": index[held_name]["soundfont_path"],
                    "soundfont": "another.sf2"}
    (notes / "instruments.json").write_text(json.dumps(index))
    assert main(["eval", "classifier", "--model", str(trained["classifier"]), "--data", str(notes), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["instruments_with_train_twin"].get(held_name) == twin
    assert held_name in report["family_accuracy_per_instrument"]
    assert 0 < report["notes_without_twins"] < report["notes"]
    assert main(["eval", "classifier", "--model", str(trained["classifier"]), "--data", str(notes)]) == 0
    assert f"{held_name} ~ {twin}" in capsys.readouterr().out


@pytest.mark.parametrize("oracle, accuracy", [("right", 1.0), ("wrong", 0.0)])
def test_classifier_report_of_an_oracle(oracle: str, accuracy: float, trained: dict[str, Path],
                                        capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    """A classifier that answers each note's true family and pitch (read from examples.json, not through the
    dataset reader) scores 1 for every family, one that answers the next family and pitch scores 0."""
    from models.classifier.model import FAMILIES, NoteClassifier

    model, _ = load_model(trained["classifier"], "classifier")
    n, low = model.cfg.n_samples, model.cfg.pitch_min
    split = trained["notes"] / "test"
    truth = {}
    for e in json.loads((split / "examples.json").read_text()).values():
        audio = read_mono(split / "audio" / f"{e['note_str']}.wav", 16000)[:n]
        truth[np.pad(audio, (0, n - audio.shape[0])).tobytes()] = (FAMILIES.index(e["instrument_family_str"]),
                                                                  e["pitch"] - low)
    shift = 0 if oracle == "right" else 1

    def predict(self: NoteClassifier, notes: np.ndarray, *args: object, **kwargs: object) -> tuple[np.ndarray,
                                                                                                     np.ndarray]:
        family, pitch = np.zeros((len(notes), len(FAMILIES))), np.zeros((len(notes), model.cfg.n_pitches))
        for i, note in enumerate(np.asarray(notes, np.float32)):
            f, p = truth[np.pad(note[:n], (0, max(0, n - note.shape[0]))).tobytes()]
            family[i, (f + shift) % len(FAMILIES)] = 1.0
            pitch[i, (p + shift) % model.cfg.n_pitches] = 1.0
        return family, pitch
    monkeypatch.setattr(NoteClassifier, "predict", predict)
    assert main(["eval", "classifier", "--model", str(trained["classifier"]), "--data", str(trained["notes"]),
                 "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["notes"] > 0 and report["family_accuracy_per_family"]
    assert report["family_accuracy"] == report["pitch_accuracy"] == accuracy
    assert set(report["family_accuracy_per_family"].values()) == {accuracy}
    assert set(report["family_accuracy_per_instrument"].values()) == {accuracy}


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


def test_tagger_split_all_scores_every_clip(trained: dict[str, Path], capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["eval", "tagger", "--model", str(trained["tagger"]), "--data", str(trained["clips"]),
                 "--split", "all", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    rows = (trained["clips"] / "annotations_final.csv").read_text().strip().splitlines()
    assert report["split"] == "all" and report["clips"] == len(rows) - 1
    assert main(["eval", "tagger", "--model", str(trained["tagger"]), "--data", str(trained["clips"]),
                 "--split", "every"]) == 2


def test_tagger_plots_beside_an_earlier_report(trained: dict[str, Path], tmp_path: Path,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    earlier = tmp_path / "old.json"
    earlier.write_text(json.dumps({"macro_roc_auc": 0.6, "roc_auc": {"drums": 0.6, "gone": 0.6}}))
    assert main(["eval", "tagger", "--model", str(trained["tagger"]), "--data", str(trained["clips"]),
                 "--plots", str(tmp_path / "plots"), "--compare", str(earlier), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert [Path(p).name for p in report["plots"]] == ["tag_auc.png"]
    assert (tmp_path / "plots" / "tag_auc.png").read_bytes()[:4] == b"\x89PNG"
    earlier.write_text("[1, 2]")
    assert main(["eval", "tagger", "--model", str(trained["tagger"]), "--data", str(trained["clips"]),
                 "--plots", str(tmp_path / "plots"), "--compare", str(earlier)]) == 2
    assert "not an `eval tagger --json` report" in capsys.readouterr().err
