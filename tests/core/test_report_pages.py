"""metrics.png draws every metric (pages of twelve), names the ones it cannot draw, and flags a
significant change that goes the wrong way for the metric's declared direction."""

from __future__ import annotations

from PIL import Image

from polyrlaif.core.report import plot_rounds, significant_changes


def _history(n_metrics):
    rows = []
    for r in range(3):
        row = {"round": r, **{f"m{i}": float(i + r) for i in range(n_metrics)}, "never": None}
        rows.append(row)
    return rows


def test_every_metric_is_drawn_over_pages_and_stale_pages_go(tmp_path):
    path = tmp_path / "metrics.png"
    (tmp_path / "metrics_p4.png").write_bytes(b"old")  # a longer earlier plot's page
    pages = plot_rounds(_history(26), path, keys=[*(f"m{i}" for i in range(26)), "never"])
    assert [p.name for p in pages] == ["metrics.png", "metrics_p2.png", "metrics_p3.png"]  # 12 + 12 + 2
    assert all(Image.open(p).size[0] > 300 for p in pages)
    assert not (tmp_path / "metrics_p4.png").exists()
    assert len(plot_rounds(_history(3), path)) == 1 and not (tmp_path / "metrics_p2.png").exists()


def test_a_significant_change_the_wrong_way_is_told_apart():
    history = [
        {"round": 0, "acc": 0.5, "err": 0.5},
        {"round": 1, "acc": 0.4, "acc/delta_low": -0.15, "acc/delta_high": -0.05,
         "err": 0.4, "err/delta_low": -0.15, "err/delta_high": -0.05},
        {"round": 2, "acc": 0.52, "acc/delta_low": -0.03, "acc/delta_high": 0.07},
    ]  # fmt: skip
    assert significant_changes(history, "acc", "higher") == ([], [1])  # accuracy fell: worse
    assert significant_changes(history, "err", "lower") == ([1], [])  # an error rate fell: better
    assert significant_changes(history, "acc", None) == ([1], [])  # no direction: not judged


def test_the_run_plot_reads_the_directions(tmp_path):
    from polyrlaif.core.report import write_run_metrics

    history = [{"round": 0, "b/acc": 0.5, "b/acc/low": 0.4, "b/acc/high": 0.6},
               {"round": 1, "b/acc": 0.3, "b/acc/low": 0.2, "b/acc/high": 0.4,
                "b/acc/delta_low": -0.3, "b/acc/delta_high": -0.1}]  # fmt: skip
    write_run_metrics(tmp_path, history, {"directions": {"b/acc": "higher"}}, keys=["b/acc"])
    image = Image.open(tmp_path / "metrics.png").convert("RGB")
    reds = sum(1 for px in image.getdata() if px[0] > 200 and px[1] < 60 and px[2] < 60)
    assert reds > 20  # the red WORSE title and the "!" mark
    write_run_metrics(tmp_path, history, {"directions": {"b/acc": "lower"}}, keys=["b/acc"])
    image = Image.open(tmp_path / "metrics.png").convert("RGB")
    assert sum(1 for px in image.getdata() if px[0] > 200 and px[1] < 60 and px[2] < 60) == 0
