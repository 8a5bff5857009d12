"""`latentbridge export` and the runtime loader: every kind's graphs match torch in ONNX Runtime, and bad
model files (missing, empty, corrupt, foreign, wrong version or kind) are one-line errors."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import onnx
import pytest
import torch

from export.app.cli import main
from export.core.errors import LatentbridgeError
from export.onnx.loader import PREFIX, open_model
from models.training.checkpoint import model_classes, save_checkpoint

TINY = {"tagger": ("models.tagger.configs", "tiny"), "classifier": ("models.classifier.model", "tiny"),
        "spectral": ("models.spectral.model", "tiny"), "wavenet": ("models.wavenet.configs", "tiny_all"),
        "autoencoder": ("models.autoencoder.configs", "tiny")}
GRAPHS = {"tagger": ["tagger"], "classifier": ["classifier"], "spectral": ["spectral_encoder", "spectral_decoder"],
          "wavenet": ["wavenet_step"],
          "autoencoder": ["controls", "controls_stream", "encoder", "encoder_stream", "decoder"]}

HERTZ, TRACKED = {"f0", "f0_past_out"}, {"periodicity", "loudness"}


def _checkpoint(kind: str, directory: Path) -> tuple[Path, torch.nn.Module]:
    import importlib

    module, name = TINY[kind]
    cfg = importlib.import_module(module).get_config(name)
    torch.manual_seed(3)
    model = model_classes(kind)[1](cfg).eval()
    for m in model.modules():  # non-trivial batch-norm statistics, so eval mode is really exercised
        if isinstance(m, torch.nn.modules.batchnorm._BatchNorm):
            m.running_mean.uniform_(-0.1, 0.1)
            m.running_var.uniform_(0.5, 1.5)
    path = directory / kind / "checkpoint.pt"
    save_checkpoint(path, kind, model, None, 0, 0)
    return path.parent, model


@pytest.mark.parametrize("kind", list(TINY))
def test_every_kind_exports_and_matches_torch(kind: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    run, model = _checkpoint(kind, tmp_path)
    assert main(["export", str(run), "--out", str(tmp_path / "onnx"), "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [r["graph"] for r in rows] == GRAPHS[kind]
    for row in rows:
        loaded = open_model(row["path"], kind=kind, graph=row["graph"])
        assert loaded.config == json.loads(json.dumps(model.cfg.to_dict()))
        assert loaded.metadata["sample_rate"] == "16000" and list(row["outputs"]) == loaded.output_names
        for output, diff in row["outputs"].items():  # f0 in Hz to 1e-3 relative, the trackers' other outputs
            if output in HERTZ:                      # to 1e-3 absolute, everything else to 1e-4 absolute
                assert diff["max_rel_diff"] <= 1e-3, (row["graph"], output, diff)
            else:
                assert diff["max_abs_diff"] <= (1e-3 if output in TRACKED else 1e-4), (row["graph"], output, diff)
    if kind == "tagger":  # an independent check beside the exporter's own: probabilities for 3 clips
        audio = np.random.default_rng(1).uniform(-0.5, 0.5, (3, model.cfg.n_samples)).astype(np.float32)
        got = open_model(rows[0]["path"]).run(audio=audio)["probabilities"]
        with torch.no_grad():
            expected = torch.sigmoid(model(torch.from_numpy(audio))).numpy()
        np.testing.assert_allclose(got, expected, atol=1e-5)
    assert main(["export", str(run), "--out", str(tmp_path / "onnx")]) == 2  # no overwrite without --force


def test_bad_model_files_are_one_line_errors(tmp_path: Path) -> None:
    run, _ = _checkpoint("tagger", tmp_path)
    assert main(["export", str(run), "--out", str(tmp_path / "onnx")]) == 0
    good = tmp_path / "onnx" / "tagger.tagger.onnx"
    with pytest.raises(LatentbridgeError, match="no such model file"):
        open_model(tmp_path / "missing.onnx")
    empty = tmp_path / "empty.onnx"
    empty.write_bytes(b"")
    with pytest.raises(LatentbridgeError, match="empty model file"):
        open_model(empty)
    corrupt = tmp_path / "corrupt.onnx"
    corrupt.write_bytes(good.read_bytes()[:200])
    with pytest.raises(LatentbridgeError, match="not a readable ONNX model"):
        open_model(corrupt)
    proto = onnx.load(str(good))
    for entry in proto.metadata_props:
        if entry.key == f"{PREFIX}format_version":
            entry.value = "99"
    future = tmp_path / "future.onnx"
    onnx.save(proto, str(future))
    with pytest.raises(LatentbridgeError, match="format version 99"):
        open_model(future)
    del proto.metadata_props[:]
    foreign = tmp_path / "foreign.onnx"
    onnx.save(proto, str(foreign))
    with pytest.raises(LatentbridgeError, match="not a latentbridge model"):
        open_model(foreign)
    with pytest.raises(LatentbridgeError, match="a tagger model, not a wavenet one"):
        open_model(good, kind="wavenet")


def test_onnx_harmonic_decoder_streams_in_blocks_like_one_call(tmp_path: Path) -> None:
    run, model = _checkpoint("autoencoder", tmp_path)
    assert main(["export", str(run), "--out", str(tmp_path / "onnx")]) == 0
    decoder = open_model(tmp_path / "onnx" / "autoencoder.decoder.onnx", kind="autoencoder", graph="decoder")
    rng = np.random.default_rng(4)
    batch, frames = 2, 12
    controls = {"z": rng.standard_normal((batch, frames, model.cfg.encoder.z_dim)).astype(np.float32),
                "f0": rng.uniform(80, 600, (batch, frames)).astype(np.float32),
                "periodicity": rng.uniform(0, 1, (batch, frames)).astype(np.float32),
                "loudness": rng.uniform(-60, -10, (batch, frames)).astype(np.float32)}
    hidden, synth, level = model.init_decoder_state(batch)
    names = ("phase", "f0_prev", "amp_prev", "noise_prev", "position", "level_gain", "level_ratio", "level_tail")
    state = {"hidden": hidden.numpy(), **{n: t.numpy() for n, t in zip(names, (*synth, *level), strict=True)}}
    assert set(decoder.input_names) == {*controls, *state}  # the level correction's state travels explicitly
    settings = json.loads(decoder.metadata["level_correction"])  # the graph says the correction is in
    assert settings["max_db"] == model.cfg.level_max_db and settings["look_ahead_samples"] == 0
    whole = decoder.run(**controls, **state)["audio"]
    with torch.no_grad():
        expected, _ = model.decode(*(torch.from_numpy(controls[k]) for k in ("z", "f0", "periodicity", "loudness")))
    np.testing.assert_allclose(whole, expected.numpy(), atol=1e-4)
    pieces, current = [], dict(state)
    for lo, hi in ((0, 5), (5, 6), (6, 12)):
        out = decoder.run(**{k: v[:, lo:hi] for k, v in controls.items()}, **current)
        pieces.append(out["audio"])
        current = {n: out[f"{n}_out"] for n in state}
    np.testing.assert_allclose(np.concatenate(pieces, axis=1), whole, atol=1e-5)
    assert whole.shape == (batch, frames * model.cfg.frame_hop) and np.abs(whole).max() > 0


def test_onnx_streaming_encoder_in_blocks_equals_the_offline_encoder(tmp_path: Path) -> None:
    run, model = _checkpoint("autoencoder", tmp_path)
    assert main(["export", str(run), "--out", str(tmp_path / "onnx")]) == 0
    stream = open_model(tmp_path / "onnx" / "autoencoder.encoder_stream.onnx", graph="encoder_stream")
    cfg = model.cfg
    audio = np.random.default_rng(5).uniform(-0.5, 0.5, (2, 12 * cfg.encoder.hop)).astype(np.float32)
    with torch.no_grad():
        expected = model.encode(torch.from_numpy(audio))[0].numpy()
    names = [n for n in stream.input_names if n != "audio"]
    state = {n: np.zeros((2, *stream.session.get_inputs()[i + 1].shape[1:]), np.float32)
             for i, n in enumerate(names)}
    steps, start = [], 0
    for blocks in (1, 3, 4, 2, 38):  # control frames per call (128 samples each): 48 frames = 12 latents
        out = stream.run(audio=audio[:, start: start + blocks * cfg.frame_hop], **state)
        steps.append(out["steps"])
        state = {n: out[f"{n}_out"] for n in names}
        start += blocks * cfg.frame_hop
    per_step = np.concatenate(steps, axis=2)
    pooled = per_step.reshape(2, per_step.shape[1], -1, cfg.frames_per_z).mean(-1)
    np.testing.assert_allclose(pooled, expected, atol=1e-4)


def test_autoencoder_graphs_use_the_stft_op_and_an_int8_noise_table(tmp_path: Path) -> None:
    import onnx

    run, model = _checkpoint("autoencoder", tmp_path)
    assert main(["export", str(run), "--out", str(tmp_path / "onnx")]) == 0
    table_bytes = model.synth.bands.numel() * 4
    decoder = onnx.load(str(tmp_path / "onnx" / f"{run.name}.decoder.onnx"))
    int8 = [n for n in decoder.graph.node if n.op_type == "Constant" and n.attribute[0].t.data_type == 3]
    assert int8 and "Cast" in {n.op_type for n in decoder.graph.node}
    assert decoder.ByteSize() < table_bytes  # the float32 table alone would not fit
    pitch, loud = model.tracker_configs()  # what a stream must keep, for the runtime to read
    assert open_model(tmp_path / "onnx" / f"{run.name}.controls.onnx").metadata["history"] == str(
        max(pitch.history, loud.n_fft))
    for graph in ("controls", "encoder") if model.encoder.logmel is not None else ("controls",):
        proto = onnx.load(str(tmp_path / "onnx" / f"{run.name}.{graph}.onnx"))
        assert "STFT" in {n.op_type for n in proto.graph.node}
