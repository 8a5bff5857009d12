"""`latentbridge dataset clips --extend`: keeps a previous render's clips and adds the rest; the result equals a
render of all clips at once, byte for byte. A render with other settings is refused."""

from __future__ import annotations

from pathlib import Path

import pytest

from export.app.cli import main


def _clips(out: Path, clips: int, *extra: str) -> int:
    return main(["dataset", "clips", "--out", str(out), "--clips", str(clips), "--duration", "2", "--workers", "1",
                 *extra])


def _files(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def test_extend_equals_one_render_and_keeps_the_old_files(tmp_path: Path) -> None:
    assert _clips(tmp_path / "whole", 10) == 0
    assert _clips(tmp_path / "grown", 6) == 0
    kept = (tmp_path / "grown" / "0" / "clip_00000.wav").stat().st_ino
    assert _clips(tmp_path / "grown", 10, "--extend") == 0
    assert _files(tmp_path / "grown") == _files(tmp_path / "whole")
    assert (tmp_path / "grown" / "0" / "clip_00000.wav").stat().st_ino == kept  # linked, not rendered again
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no staging left behind


@pytest.mark.parametrize("other", [["--seed", "1"], ["--no-vocals"]])
def test_extend_refuses_other_settings_and_fewer_clips(tmp_path: Path, other: list[str]) -> None:
    assert _clips(tmp_path / "c", 12) == 0
    before = _files(tmp_path / "c")
    if other == ["--no-vocals"] and not any(b"vocal\": {" in line for line in
                                            (tmp_path / "c" / "render_log.jsonl").read_bytes().splitlines()[-1:]):
        other = ["--duration", "3"]  # clip 11 has no vocal line to tell; another duration must be refused too
    assert main(["dataset", "clips", "--out", str(tmp_path / "c"), "--clips", "14", "--duration", "2",
                 "--workers", "1", "--extend", *other]) == 2
    assert _clips(tmp_path / "c", 8, "--extend") == 2
    assert _files(tmp_path / "c") == before


def test_extend_with_the_same_count_re_annotates_with_todays_tags(tmp_path: Path) -> None:
    assert _clips(tmp_path / "c", 4) == 0
    fresh = _files(tmp_path / "c")
    log = tmp_path / "c" / "render_log.jsonl"
    stale = [line.replace('"tags": [', '"tags": ["major", ') for line in log.read_text().splitlines()]
    log.write_text("".join(f"{line}\n" for line in stale))  # as a render before the tag review wrote them
    assert _clips(tmp_path / "c", 4, "--extend") == 0
    assert _files(tmp_path / "c") == fresh
