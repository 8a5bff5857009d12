"""`latentbridge bench render` reports what its renders really gave (shape, dtype, finite samples), per block size."""

from __future__ import annotations

from plugin_host.render_bench import bench_render


def test_shape_kept_is_measured_on_the_rendered_stems() -> None:
    report = bench_render("effects-only", seconds=0.5, stems=2, stem_seconds=0.3)
    frames = int(0.5 * report["sample_rate"])
    assert report["output_shapes"] == {"256": [[2, frames], "float32", True], "4096": [[2, frames], "float32", True]}
    assert report["shape_kept"] is True
    assert set(report["wall_s"]) == {"256", "4096"} and report["scaling"]["stems"] == 2
