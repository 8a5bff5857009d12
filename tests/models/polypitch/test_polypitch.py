"""The multi-pitch tracker in torch: the front end against a sine, streaming == one call, causality, targets,
a short training run through the CLI."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import soundfile
import torch
from poly_phrases import write_phrases

from export.app.cli import main
from export.core.errors import LatentbridgeError
from models.data.poly_midi import NoteLabel
from models.polypitch.frontend import asymmetric_hann
from models.polypitch.labels import HARMONIC_INTERVALS, activation_weights, frame_targets, reference_grid, restrikes
from models.polypitch.model import PolyPitchConfig, PolyPitchNet, get_config
from models.training.train_poly import PolyTask, PolyTraining, widen_into

HOP = 128


def sine(hz: float, samples: int) -> torch.Tensor:
    return 0.5 * torch.sin(2 * torch.pi * hz * torch.arange(samples) / 16000.0)[None].float()


def test_a_sine_peaks_at_its_bin_in_each_harmonic_channel() -> None:
    model = PolyPitchNet(PolyPitchConfig(n_ffts=(4096,), harmonics=(1.0, 2.0)))
    stack = model.stack(torch.cat([torch.zeros(1, 0), sine(440.0, model.stack.context + 4 * HOP)], dim=1))
    fundamental, octave = stack[0, 0, -1], stack[0, 1, -1]
    assert int(fundamental.argmax()) == 3 * (69 - 21)  # A4 in the fundamental's channel
    assert int(octave.argmax()) == 3 * (57 - 21)  # the second-harmonic channel sees it an octave below
    low = model.stack(sine(110.0, model.stack.context + HOP))[0, 0, -1]  # DFT bins wider than log bins here
    assert int(low.argmax()) == 3 * (45 - 21)
    assert 0.4 < float(low.max().exp()) <= 0.5  # amplitude 0.5, interpolated between DFT bins


def test_the_asymmetric_window_is_hann_at_zero_fall_and_hears_a_new_note_sooner() -> None:
    for n in (256, 1024, 4096):
        hann = torch.hann_window(n, periodic=True, dtype=torch.float64).numpy()
        np.testing.assert_allclose(asymmetric_hann(n, 0), hann, atol=1e-12)
        np.testing.assert_allclose(asymmetric_hann(n, n // 2), hann, atol=1e-12)
    slow = PolyPitchNet(PolyPitchConfig(n_ffts=(4096,), harmonics=(1.0,))).stack
    fast = PolyPitchNet(PolyPitchConfig(n_ffts=(4096,), harmonics=(1.0,), window_fall=256)).stack
    silence, frames = torch.zeros(1, slow.context), 60
    tone = torch.cat([silence, sine(440.0, frames * HOP)], dim=1)  # A4 starts at the first new frame
    slow_level, fast_level = (stack(tone)[0, 0, :, 3 * (69 - 21)].exp() for stack in (slow, fast))
    assert float(fast_level[-1]) == pytest.approx(float(slow_level[-1]), rel=0.1)  # the scale keeps a steady level
    slow_frame, fast_frame = (int(torch.nonzero(level >= 0.5 * float(level[-1]))[0])
                              for level in (slow_level, fast_level))
    assert 0 < fast_frame <= slow_frame - 5  # 40 ms or more sooner (half the window's mass: 128 ms against 75)


@pytest.fixture(params=[(0, 0), (256, 0), (256, 3)], ids=["hann", "falling_window", "memory"])
def tiny(request: pytest.FixtureRequest) -> PolyPitchNet:
    """poly_tiny with Hann windows, with the falling windows of the bundled tracker (`window_fall`), and with a
    per-bin recurrent memory whose output conv is drawn at random (it starts at zero)."""
    window_fall, memory = request.param
    torch.manual_seed(0)
    model = PolyPitchNet(replace(get_config("poly_tiny"), window_fall=window_fall, memory=memory)).eval()
    if memory:
        with torch.no_grad():
            model.memory_head.weight.normal_(0.0, 1.0)
    return model


@pytest.mark.parametrize("blocks", [(1, 3, 7, 2, 11), (5, 1, 1, 17)])
def test_streaming_in_awkward_blocks_equals_one_call(tiny: PolyPitchNet, blocks: tuple[int, ...]) -> None:
    audio = 0.3 * torch.randn(1, sum(blocks) * HOP, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        act, onset = tiny(audio)
        state, parts, start = tiny.init_state(1), [], 0
        for k in blocks:
            a, o, state = tiny.stream(audio[:, start: start + k * HOP], state)
            parts.append((a, o))
            start += k * HOP
    torch.testing.assert_close(torch.cat([p[0] for p in parts], 1), act, atol=1e-5, rtol=0)
    torch.testing.assert_close(torch.cat([p[1] for p in parts], 1), onset, atol=1e-5, rtol=0)


def test_a_frame_never_depends_on_later_audio(tiny: PolyPitchNet) -> None:
    audio = 0.3 * torch.randn(1, 40 * HOP, generator=torch.Generator().manual_seed(2))
    changed = audio.clone()
    changed[:, 20 * HOP:] = 0.3 * torch.randn(1, 20 * HOP)  # everything after frame 19
    with torch.no_grad():
        (a1, o1), (a2, o2) = tiny(audio), tiny(changed)
    assert torch.equal(a1[:, :20], a2[:, :20]) and torch.equal(o1[:, :20], o2[:, :20])
    assert not torch.allclose(a1[:, 20], a2[:, 20])  # ... and the frame holding the change does move


def test_targets_follow_the_bend_and_mark_onsets() -> None:
    note = NoteLabel(onset=0.1, offset=0.5, pitch=60, velocity=100, program=0, channel=0, bend=((0.3, 1.0),))
    act, onset = frame_targets((note,), 0, 80, HOP, 16000)
    first, last = int(0.1 * 16000 // HOP), int(np.ceil(0.5 * 16000 / HOP))
    assert act[:first].max() == 0 and act[last:].max() == 0
    assert int(act[first + 2].argmax()) == 3 * (60 - 21)  # before the bend
    assert int(act[int(0.4 * 16000 / HOP)].argmax()) == 3 * (61 - 21)  # a semitone up after it
    assert act[first + 2, 3 * 39 + 1] == pytest.approx(np.exp(-0.5 / 0.49), rel=1e-5)  # one bin off: blurred
    assert np.flatnonzero(onset[:, 60 - 21]).tolist() == [first, first + 1] and onset.sum() == 2
    grid = reference_grid((note,), 80, HOP, 16000)
    assert grid[first - 1].size == 0 and grid[first].tolist() == [60.0] and grid[last - 1].tolist() == [61.0]


def test_restrikes_mark_a_note_struck_again_while_its_release_rings() -> None:
    def note(onset: float, offset: float, pitch: int = 60) -> NoteLabel:
        return NoteLabel(onset=onset, offset=offset, pitch=pitch, velocity=100, program=0, channel=0, bend=())

    first, again, later, other = note(0.1, 0.45), note(0.5, 0.8), note(1.2, 1.5), note(0.5, 0.8, 64)
    marks = restrikes((first, again, later, other), 0, 160, HOP, 16000)
    struck = int(0.5 * 16000 // HOP)
    assert np.flatnonzero(marks[:, 60 - 21]).tolist() == [struck, struck + 1]  # 50 ms after the key-up: marked
    assert marks[:, 64 - 21].sum() == 0  # a new pitch, and the C after a 400-ms gap, are plain onsets
    assert marks.sum() == 2


def test_activation_weights_mark_the_release_after_key_up_and_the_attack_at_the_note_s_bins() -> None:
    note = NoteLabel(onset=0.1, offset=0.5, pitch=60, velocity=100, program=0, channel=0, bend=((0.3, 1.0),))
    weights = activation_weights((note,), 0, 120, HOP, 16000, tail_frames=10, tail_weight=4.0, attack_frames=3,
                                 attack_weight=2.0)
    first, last = int(0.1 * 16000 // HOP), int(np.ceil(0.5 * 16000 / HOP))
    attack = np.flatnonzero(weights[:, 3 * 39] == 2.0).tolist()
    assert attack == [first, first + 1, first + 2]
    assert np.flatnonzero(weights[first] == 2.0).tolist() == list(range(3 * 39 - 3, 3 * 39 + 4))  # +-1 semitone
    tail = weights[last: last + 10]
    assert np.all(tail[:, 3 * 40 - 3: 3 * 40 + 4] == 4.0)  # at the bent pitch in force at key-up (61)
    assert tail[:, 3 * 39 - 1].max() == 1.0 and weights[last + 10].max() == 1.0  # the unbent 60 and after it
    assert weights.sum() == weights.size + 3 * 7 * 1.0 + 10 * 7 * 3.0
    later = activation_weights((note,), last + 5, 20, HOP, 16000, 10, 4.0, 3, 2.0)  # a crop starting in the tail
    np.testing.assert_array_equal(later, weights[last + 5: last + 25])


def test_widening_a_checkpoint_keeps_its_outputs_and_refuses_shrinking() -> None:
    """New front-end windows, and more channels in every layer and head, start at the source's outputs."""
    torch.manual_seed(0)
    narrow = PolyPitchNet(PolyPitchConfig(n_ffts=(1024,), harmonics=(1.0, 2.0), channels=4, octave_kernel=5,
                                          onset_channels=4)).eval()
    wide = PolyPitchNet(PolyPitchConfig(n_ffts=(1024, 256), harmonics=(1.0, 2.0), channels=4, octave_kernel=5,
                                        onset_channels=4)).eval()
    with torch.no_grad():
        for p in narrow.parameters():
            p.add_(0.1 * torch.randn_like(p))  # away from the fresh initialisation
        assert widen_into(wide, narrow.state_dict()) == ["norm.weight", "norm.bias", "norm.running_mean",
                                                         "norm.running_var", "conv1.conv.weight"]
        audio = 0.3 * torch.randn(1, 30 * HOP, generator=torch.Generator().manual_seed(3))
        (a1, o1), (a2, o2) = narrow(audio), wide(audio)
    torch.testing.assert_close(a2, a1, atol=1e-6, rtol=0)
    torch.testing.assert_close(o2, o1, atol=1e-6, rtol=0)
    with pytest.raises(LatentbridgeError, match="cannot widen"), torch.no_grad():
        widen_into(narrow, wide.state_dict())
    wider = PolyPitchNet(PolyPitchConfig(n_ffts=(1024, 256), harmonics=(1.0, 2.0), channels=6, octave_kernel=5,
                                         onset_channels=5)).eval()  # more channels in every layer and head
    with torch.no_grad():
        assert {"conv1.conv.weight", "octave.weight", "activation_head.weight",
                "onset_head.weight"} <= set(widen_into(wider, narrow.state_dict()))
        a3, o3 = wider(audio)
    torch.testing.assert_close(a3, a1, atol=1e-6, rtol=0)
    torch.testing.assert_close(o3, o1, atol=1e-6, rtol=0)


def test_a_memory_added_by_init_starts_from_the_source_s_outputs_and_then_moves_them() -> None:
    torch.manual_seed(0)
    cfg = PolyPitchConfig(n_ffts=(1024,), harmonics=(1.0, 2.0), channels=4, octave_kernel=5, onset_channels=4)
    plain, remembering = PolyPitchNet(cfg).eval(), PolyPitchNet(replace(cfg, memory=3)).eval()
    assert remembering.state_names[-1] == "memory"
    assert tuple(remembering.init_state(2)[-1].shape) == (2, cfg.n_bins, 3)
    audio = 0.3 * torch.randn(1, 30 * HOP, generator=torch.Generator().manual_seed(4))
    with torch.no_grad():
        assert widen_into(remembering, plain.state_dict()) == []
        (a1, o1), (a2, o2) = plain(audio), remembering(audio)
        torch.testing.assert_close(a2, a1, atol=1e-6, rtol=0)
        torch.testing.assert_close(o2, o1, atol=1e-6, rtol=0)
        remembering.memory_head.weight.normal_(0.0, 1.0)
        a3, o3 = remembering(audio)
    assert (a3 - a1).abs().max() > 0.1 and torch.equal(o3, o1)  # the memory adds to the activations only
    with pytest.raises(LatentbridgeError, match="not a tracker of this architecture"), torch.no_grad():
        widen_into(plain, remembering.state_dict())  # a memory has nowhere to go


def test_train_writes_best_and_resumes(tmp_path: Path, one_thread: None, capsys: pytest.CaptureFixture) -> None:
    data = write_phrases(tmp_path / "data", {"train": 3, "valid": 1, "test": 1}, seconds=1.0)
    out = tmp_path / "run"
    common = ["train", "poly", "--data", str(data), "--out", str(out), "--config", "poly_tiny", "--batch", "2",
              "--crop", "16", "--valid-every", "2", "--valid-phrases", "1", "--json"]
    assert main([*common, "--steps", "2"]) == 0
    assert (out / "best.pt").is_file() and (out / "checkpoint.pt").is_file()
    assert main([*common, "--steps", "4", "--resume"]) == 0
    summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert summary["start_step"] == 2 and summary["steps"] == 4 and np.isfinite(summary["loss"])
    assert (out / "log.csv").read_text().count("\n") == 5  # header + 4 steps


def test_lr_halves_after_patience_validations_without_a_better_f1(tmp_path: Path) -> None:
    task = PolyTask(get_config("poly_tiny"), tmp_path, tmp_path / "cache", 1, 0, PolyTraining(valid_every=1),
                    lr_patience=2)
    task.valid = [(np.zeros(128, np.float32), np.zeros((1, 264), np.float32))]
    scores = iter([0.5, 0.4, 0.4, 0.6, 0.3, 0.3, 0.2])
    task.validate = lambda model: next(scores)  # type: ignore[method-assign]
    verdicts = [task.after_step(task.model, step) for step in range(1, 8)]
    assert verdicts == ["best", None, None, "best", None, None, None]
    assert [row[2] for row in task.state()["history"]] == [1.0, 1.0, 1.0, 0.5, 0.5, 0.5, 0.25]
    assert task.lr_scale(8) == 0.25


def test_harmonic_weight_marks_the_octaves_and_overtones_of_each_sounding_note_while_it_sounds() -> None:
    note = NoteLabel(onset=0.1, offset=0.3, pitch=60, velocity=100, program=0, channel=0, bend=((0.2, 2.0),))
    weights = activation_weights((note,), 0, 60, HOP, 16000, tail_frames=10, tail_weight=1.0, attack_frames=3,
                                 attack_weight=1.0, harmonic_weight=3.0)
    first, last = int(0.1 * 16000 // HOP), int(np.ceil(0.3 * 16000 / HOP))
    assert np.flatnonzero(weights.max(axis=1) == 3.0).tolist() == list(range(first, last))  # while it sounds
    marked = np.flatnonzero(weights[first] == 3.0)
    expected = [3 * (60 + interval - 21) + k for interval in HARMONIC_INTERVALS for k in range(-3, 4)]
    assert marked.tolist() == expected  # +-1 semitone around 48, 72, 79, 84; the note's own bins stay at 1
    bent = int(0.2 * 16000 // HOP) + 1  # the bend (+2 semitones) moves the marks with it
    assert weights[bent, 3 * (62 + 12 - 21)] == 3.0 and weights[bent, 3 * (60 + 12 - 21) - 3] == 1.0
    plain = activation_weights((note,), 0, 60, HOP, 16000, 10, 1.0, 3, 1.0)
    assert np.all(plain == 1.0)
    below = activation_weights((note,), 0, 60, HOP, 16000, 10, 1.0, 3, 1.0, 3.0, harmonic_intervals=(-24, -12))
    assert np.flatnonzero(below[first] == 3.0).tolist() == [3 * (60 + i - 21) + k for i in (-24, -12)
                                                           for k in range(-3, 4)]  # the sub-octaves alone
    top = NoteLabel(onset=0.0, offset=0.2, pitch=100, velocity=100, program=0, channel=0, bend=())
    assert activation_weights((top,), 0, 30, HOP, 16000, 10, 1.0, 3, 1.0, 3.0).shape == (30, 264)  # clipped at 108


def test_tail_attack_and_eq_settings_change_the_loss_are_run_settings_and_refuse_bad_values(tmp_path: Path,
                                                                                        one_thread: None) -> None:
    data = write_phrases(tmp_path / "data", {"train": 2, "valid": 1, "test": 1}, seconds=1.0)

    def task(**weights: float) -> PolyTask:
        made = PolyTask(get_config("poly_tiny"), data, tmp_path / "cache", 2, 0, PolyTraining(crop=64, **weights))
        made.prepare(0, 1)
        return made

    plain, weighted = task(), task(tail_weight=4.0, attack_weight=3.0, harmonic_weight=2.0)
    weighted.model.load_state_dict(plain.model.state_dict())
    losses = [t.loss(t.model, 5, 0, 1, torch.device("cpu")).item() for t in (plain, weighted)]
    assert losses[1] > losses[0] > 0  # the same crops, the marked frames counted more
    assert "tail_weight" not in plain.settings()["training"]  # runs from before the weights resume unchanged
    assert weighted.settings()["training"]["tail_weight"] == 4.0
    assert weighted.settings()["training"]["harmonic_weight"] == 2.0 and "harmonic_weight" not in plain.settings()[
        "training"]
    with pytest.raises(LatentbridgeError, match="must be >= 1"):
        PolyTask(get_config("poly_tiny"), data, tmp_path / "cache", 2, 0, PolyTraining(tail_weight=0.5))
    with pytest.raises(LatentbridgeError, match="harmonic-weight must be >= 1"):
        PolyTask(get_config("poly_tiny"), data, tmp_path / "cache", 2, 0, PolyTraining(harmonic_weight=0.0))
    with pytest.raises(LatentbridgeError, match="eq-db"):
        PolyTask(get_config("poly_tiny"), data, tmp_path / "cache", 2, 0, PolyTraining(eq_db=30.0))
    equalised = task(eq_db=12.0)
    equalised.model.load_state_dict(plain.model.state_dict())
    again = [equalised.loss(equalised.model, 5, 0, 1, torch.device("cpu")).item() for _ in range(2)]
    assert again[0] == again[1] != losses[0]  # the same filters for the same step, other sound than plain


def test_extra_datasets_join_the_training_pool_with_their_own_audio_and_are_run_settings(tmp_path: Path,
                                                                                      one_thread: None) -> None:
    data = write_phrases(tmp_path / "data", {"train": 3, "valid": 1, "test": 1}, seconds=1.0)
    third = write_phrases(tmp_path / "third_font", {"train": 2}, seconds=1.5, seed=1)
    task = PolyTask(get_config("poly_tiny"), data, tmp_path / "cache", 2, 0, PolyTraining(crop=16), extra=(third,))
    facts = task.prepare(0, 1)
    assert facts["phrases"] == 5 and facts["phrases_per_dataset"] == [3, 2]
    assert (tmp_path / "cache" / "extra-third_font" / "audio.npy").is_file()
    assert task.frames is not None and list(task.frames) == [125] * 3 + [187] * 2
    wav, _ = soundfile.read(third / "train" / "train_001.wav", dtype="float32")
    context, warmup = task.model.stack.context, task.training.warmup
    crop = task._crop(4, 40)  # global phrase 4 = the extra dataset's second phrase
    begin = (40 - warmup) * HOP - context
    np.testing.assert_allclose(crop, wav[begin: begin + crop.shape[0]], atol=1e-4)
    assert task.settings()["extra_data"] == [str(third)]
    assert "extra_data" not in PolyTask(get_config("poly_tiny"), data, tmp_path / "c2", 2, 0).settings()
    assert np.isfinite(task.loss(task.model, 3, 0, 1, torch.device("cpu")).item())
    with pytest.raises(LatentbridgeError, match="extra-data"):
        PolyTask(get_config("poly_tiny"), data, tmp_path / "cache", 2, 0, extra=(data,))
    with pytest.raises(LatentbridgeError, match="extra-data"):
        PolyTask(get_config("poly_tiny"), data, tmp_path / "cache", 2, 0, extra=(third, third))


def test_tail_ms_sets_the_weighted_span_in_frames_and_refuses_less_than_one(tmp_path: Path, one_thread: None,
                                                                           capsys: pytest.CaptureFixture) -> None:
    data = write_phrases(tmp_path / "data", {"train": 1, "valid": 1, "test": 1}, seconds=1.0)

    def train(out: str, *extra: str) -> int:
        return main(["train", "poly", "--data", str(data), "--out", str(tmp_path / out), "--config", "poly_tiny",
                     "--batch", "1", "--crop", "16", "--steps", "1", *extra])

    assert train("long", "--tail-ms", "320", "--tail-weight", "3") == 0
    assert train("plain") == 0
    assert train("below", "--harmonic-weight", "4", "--harmonic-intervals=-24,-12") == 0
    settings = {name: torch.load(tmp_path / name / "checkpoint.pt", weights_only=False)["extra"]["settings"][
        "training"] for name in ("long", "plain", "below")}
    assert settings["long"]["tail_frames"] == 40 and settings["long"]["tail_weight"] == 3.0
    assert "tail_frames" not in settings["plain"]  # 192 ms, the default: older runs resume unchanged
    assert "harmonic_intervals" not in settings["plain"] and list(settings["below"]["harmonic_intervals"]) == [-24, -12]
    capsys.readouterr()
    assert train("short", "--tail-ms", "3", "--tail-weight", "3") == 2
    assert "tail and attack spans must be >= 1 frame" in capsys.readouterr().err
    for bad in ("0,12", "-12,x"):
        with pytest.raises(SystemExit) as refused:
            train("bad", f"--harmonic-intervals={bad}")
        assert refused.value.code == 2 and "--harmonic-intervals" in capsys.readouterr().err


def test_an_extra_dataset_without_training_phrases_is_a_one_line_error(tmp_path: Path) -> None:
    data = write_phrases(tmp_path / "data", {"train": 1, "valid": 1, "test": 1}, seconds=1.0)
    for name, counts, message in (("valid_only", {"valid": 1}, r"valid_only/phrases.json: no split 'train'"),
                                  ("empty_train", {"train": 0}, r"empty_train: no train phrases$")):
        extra = write_phrases(tmp_path / name, counts, seconds=1.0)
        task = PolyTask(get_config("poly_tiny"), data, tmp_path / "cache", 1, 0, extra=(extra,))
        with pytest.raises(LatentbridgeError, match=message):
            task.prepare(0, 1)


def test_skipped_instruments_are_never_drawn_and_are_a_run_setting(tmp_path: Path, one_thread: None) -> None:
    """Phrases played by a (SoundFont, program) that `dataset tuning` marks off its key stay in the cache but are
    never cropped; skipping every phrase is a one-line error."""
    data = write_phrases(tmp_path / "data", {"train": 4, "valid": 1}, seconds=1.0)
    for name, font in (("train_000", "off.sf2"), ("train_001", "good.sf2"), ("train_002", "off.sf2")):
        path = data / "train" / f"{name}.json"
        path.write_text(json.dumps({**json.loads(path.read_text()), "soundfont": font}))

    class Recording(PolyTask):
        drawn: set[int] = set()

        def _crop(self, phrase: int, start: int) -> np.ndarray:
            self.drawn.add(int(phrase))
            return super()._crop(phrase, start)

    task = Recording(get_config("poly_tiny"), data, tmp_path / "cache", 2, 0, PolyTraining(crop=16),
                     skip=frozenset({("off.sf2", 0)}))
    facts = task.prepare(0, 1)
    assert facts["phrases"] == 4 and facts["phrases_skipped"] == 2
    for step in range(40):
        task.loss(task.model, step, 0, 1, torch.device("cpu"))
    assert Recording.drawn == {1, 3}
    assert task.settings()["skip_instruments"] == [["off.sf2", 0]]
    assert "skip_instruments" not in PolyTask(get_config("poly_tiny"), data, tmp_path / "cache", 2, 0).settings()
    everything = PolyTask(get_config("poly_tiny"), data, tmp_path / "cache", 2, 0, PolyTraining(crop=16),
                          skip=frozenset({("off.sf2", 0), ("good.sf2", 0), ("", 0)}))
    with pytest.raises(LatentbridgeError, match="leaves no training phrase"):
        everything.prepare(0, 1)
