"""Judging WaveNets by what they generate (the native kernel for speech, torch queue sampling for notes).

- speech WaveNet: for every speaker id, `seconds` of audio generated (by the native kernel) under each gender
  one-hot; CREPE's median f0 over the voiced frames (periodicity >= 0.5) of the female and the male speakers
  under their own gender (the conditions the model was trained on), of every speaker under each one-hot (the
  gender input alone), and of the training utterances for reference; beside the medians, counts of speaker ids
  (`speaker_counts`): how many are unvoiced, and how many follow the other gender's one-hot.
- note WaveNet (the autoencoder's decoder): reconstructions of notes from the frozen encoder's z and the
  controls tracked on the input (`NoteWaveNetTask.conditioning`), all notes sampled together in one batch;
  the LPC WaveNet likewise from its `harmonic_guide` (torch queues: the prediction needs the float past).
Audio 16 kHz mono.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from export.core.progress import bar
from export.wavenet.kernel import NativeWaveNet
from models.autoencoder.model import Autoencoder
from models.data.vctk_reader import VCTKDataset
from models.judges.crepe import crepe_pitch
from models.training.train_wavenet import note_local_conditioning
from models.wavenet import mu_law
from models.wavenet.incremental import generate
from models.wavenet.lpc_decoder import EXCITATION_BOUND, LPCWaveNet, harmonic_guide
from models.wavenet.lpc_decoder import generate as generate_lpc
from models.wavenet.model import WaveNet, period_from_f0

GENDERS = {"female": (1.0, 0.0), "male": (0.0, 1.0)}
VOICED = 0.5
COUNT_DEFINITIONS = {
    "unvoiced": "speaker ids whose generated audio has no CREPE frame with periodicity >= 0.5 (median f0 NaN); "
                "conditions.G: of the speakers of gender G under their own one-hot; gender_only.G: of every "
                "speaker id under G's one-hot",
    "follows_gender_onehot": "G: of the voiced speaker ids of the other gender generated under G's one-hot "
                             "(of; unvoiced: the others), those (n, speakers) whose median f0 is strictly nearer "
                             "the data's median f0 of G than that of their own gender; all: both summed",
}


def median_f0(audio: np.ndarray, crepe: str = "full") -> float:
    """Median CREPE f0 (Hz) over frames with periodicity >= 0.5; NaN when none is voiced."""
    f0, periodicity = crepe_pitch(audio, model=crepe, fmin=50.0, fmax=1000.0)
    voiced = f0[periodicity >= VOICED]
    return float(np.median(voiced)) if voiced.size else float("nan")


def exported_weights(model: WaveNet) -> Any:
    """The model's weights as the native kernel reads them, through a temporary ONNX export (the runtime's
    own generator, about 100x faster than torch's queue loop)."""
    import tempfile
    from pathlib import Path

    from export.wavenet.kernel import read_weights
    from models.exporting.onnx_export import export_checkpoint
    from models.training.checkpoint import save_checkpoint

    with tempfile.TemporaryDirectory() as tmp:
        save_checkpoint(Path(tmp) / "run" / "checkpoint.pt", "wavenet", model, None, 0, 0)
        (row,) = export_checkpoint(Path(tmp) / "run", Path(tmp) / "onnx", "eval")
        return read_weights(row["path"])


@torch.no_grad()
def speech_report(model: WaveNet, speakers: list[str], data_genders: dict[str, str], data: Any,
                  seconds: float = 2.0, temperature: float = 0.8, seed: int = 0,
                  crepe: str = "full") -> dict[str, Any]:
    """{"conditions": {gender: {"median_f0_hz", "per_speaker"}}, "data": {gender: median f0 of the data},
    "difference_hz": female - male, "gender_only": {...}, "gender_only_difference_hz"}.

    conditions: each speaker id with its own gender's one-hot (how the model was trained), grouped by gender;
    gender_only: every speaker id under each one-hot (does the gender input alone move the pitch?)."""
    n = int(seconds * model.cfg.sample_rate)
    ids = np.arange(len(speakers))
    own = np.array(["female" if data_genders.get(s) == "F" else "male" for s in speakers])
    f0: dict[str, dict[str, float]] = {}
    weights = exported_weights(model)  # exported once, a fresh kernel per one-hot
    for name, onehot in GENDERS.items():
        vec = np.tile(np.asarray(onehot, np.float32), (len(speakers), 1))
        kernel = NativeWaveNet(weights, batch=len(speakers), seed=seed)
        classes, _ = kernel.generate(n, global_id=ids, global_vec=vec, temperature=temperature,
                                     threads=torch.get_num_threads())
        audio = mu_law.decode(torch.from_numpy(classes)).numpy()
        f0[name] = {s: median_f0(audio[i], crepe) for i, s in enumerate(speakers)}

    def median(values: list[float]) -> float:
        finite = [v for v in values if np.isfinite(v)]
        return float(np.median(finite)) if finite else float("nan")
    report: dict[str, Any] = {"seconds": seconds, "temperature": temperature, "speakers": speakers,
                              "conditions": {}, "gender_only": {}}
    for name in GENDERS:
        mine = {s: f0[name][s] for s, g in zip(speakers, own, strict=True) if g == name}
        report["conditions"][name] = {"median_f0_hz": median(list(mine.values())), "per_speaker": mine}
        report["gender_only"][name] = {"median_f0_hz": median(list(f0[name].values())), "per_speaker": f0[name]}
    report["data"] = _data_f0(data, data_genders, crepe)
    report["difference_hz"] = (report["conditions"]["female"]["median_f0_hz"]
                               - report["conditions"]["male"]["median_f0_hz"])
    report["gender_only_difference_hz"] = (report["gender_only"]["female"]["median_f0_hz"]
                                           - report["gender_only"]["male"]["median_f0_hz"])
    report.update(speaker_counts(f0, dict(zip(speakers, own.tolist(), strict=True)), report["data"]))
    return report


def speaker_counts(f0: dict[str, dict[str, float]], own: dict[str, str], data: dict[str, float]) -> dict[str, Any]:
    """{"unvoiced", "follows_gender_onehot", "count_definitions"} (see COUNT_DEFINITIONS) from the median f0
    (Hz, NaN when unvoiced) of each speaker id under each gender one-hot, `f0[onehot][speaker]`, the speakers'
    own genders `own[speaker]` ("female"/"male") and the data's median f0 per gender `data[gender]` (a NaN data
    median makes no speaker follow). Every count is {"n", "of", "speakers": the n speaker ids}."""
    unvoiced: dict[str, dict[str, Any]] = {"conditions": {}, "gender_only": {}}
    follows: dict[str, Any] = {}
    for onehot, rows in f0.items():
        silent = [s for s, hz in rows.items() if not np.isfinite(hz)]
        mine = [s for s in rows if own[s] == onehot]
        unvoiced["gender_only"][onehot] = {"n": len(silent), "of": len(rows), "speakers": silent}
        mine_silent = [s for s in mine if s in silent]
        unvoiced["conditions"][onehot] = {"n": len(mine_silent), "of": len(mine), "speakers": mine_silent}
        others = [s for s in rows if own[s] != onehot and s not in silent]
        near = [s for s in others if abs(rows[s] - data[onehot]) < abs(rows[s] - data[own[s]])]
        follows[onehot] = {"n": len(near), "of": len(others), "unvoiced": len(rows) - len(mine) - len(others),
                           "speakers": near}
    follows["all"] = {"n": sum(c["n"] for c in follows.values()), "of": sum(c["of"] for c in follows.values()),
                      "speakers": [s for c in follows.values() for s in c["speakers"]]}
    return {"unvoiced": unvoiced, "follows_gender_onehot": follows, "count_definitions": dict(COUNT_DEFINITIONS)}


def _data_f0(dataset: VCTKDataset, genders: dict[str, str], crepe: str, per_speaker: int = 2) -> dict[str, float]:
    found: dict[str, list[float]] = {"female": [], "male": []}
    counts: dict[str, int] = {}
    with bar("median f0 of the data", total=len(dataset), unit="utt") as progress:
        for i, utt in enumerate(dataset.utterances):
            progress.update(1)
            if counts.get(utt.speaker, 0) >= per_speaker or utt.speaker not in genders:
                continue
            counts[utt.speaker] = counts.get(utt.speaker, 0) + 1
            f0 = median_f0(dataset[i][1], crepe)
            if np.isfinite(f0):
                found["female" if genders[utt.speaker] == "F" else "male"].append(f0)
    return {g: float(np.median(v)) if v else float("nan") for g, v in found.items()}


@torch.no_grad()
def note_reconstructions(model: WaveNet, autoencoder: Autoencoder, audio: np.ndarray, temperature: float = 0.7,
                         seed: int = 0) -> np.ndarray:
    """WaveNet reconstructions [N, T'] of notes [N, T] (T' = T rounded down to the latent hop)."""
    ae = autoencoder
    hop = ae.cfg.encoder.hop
    x = torch.from_numpy(audio[:, : audio.shape[1] // hop * hop])
    f0, periodicity, loudness = ae.compute_controls(x)
    local = note_local_conditioning(ae, x, f0, periodicity, loudness)
    period = period_from_f0(ae.clamp_f0(f0), model.cfg.max_period, model.cfg.sample_rate)
    classes = generate(model, f0.shape[1] * model.cfg.hop, local=local, period=period, temperature=temperature,
                       seed=seed)
    return mu_law.decode(classes).numpy()


@torch.no_grad()
def lpc_note_reconstructions(model: LPCWaveNet, autoencoder: Autoencoder, audio: np.ndarray,
                             temperature: float = 0.7, seed: int = 0, bound: float = EXCITATION_BOUND) -> np.ndarray:
    """LPC WaveNet reconstructions [N, T'] of notes [N, T] (T' = T rounded down to the latent hop), the excitation
    bounded by `bound` (see `generate`)."""
    hop = autoencoder.cfg.encoder.hop
    x = torch.from_numpy(audio[:, : audio.shape[1] // hop * hop])
    f0, periodicity, loudness = autoencoder.compute_controls(x)
    guide = harmonic_guide(autoencoder, model.cfg, x, f0, periodicity, loudness)
    return generate_lpc(model, guide, temperature, seed, bound=bound)
