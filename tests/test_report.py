import json
import math

from ganyard.params import Params
from ganyard.report import build_markdown, changed_params, class_histogram_chart, line_chart, scores_table
from ganyard.reproduce import problems_with_outputs

SCORES = {
    "fid": 16.0084,
    "fid_real": 0.1825,
    "is_mean": 6.49,
    "is_mean_real": 9.55,
    "kid_mean": 1.14,
    "kid_mean_real": -0.025,
    "precision": 0.78,
    "precision_real": 0.92,
    "recall": 0.86,
    "recall_real": 0.91,
    "n_samples": 4000,
    "n_reference": 1000,
    "backbone": "evaluator",
}


def test_scores_table_puts_each_score_beside_its_real_floor_and_skips_absent_ones():
    table = scores_table(SCORES)
    assert "| FID (`fid`) | 16.01 | 0.1825 | lower |" in table
    assert "| Inception Score (`is_mean`) | 6.49 | 9.55 | higher |" in table
    assert "coverage" not in table  # not in these scores (unlabelled data has none)


def test_changed_params_lists_exactly_the_differences_from_the_defaults():
    defaults = Params().model_dump()
    params = Params.model_validate({"train": {"lr": 1e-4, "replay": {"size": 10}}, "data": {"limit": 300}}).model_dump()
    assert changed_params(params, defaults) == [("data.limit", 300, None), ("train.replay.size", 10, 0), ("train.lr", 1e-4, Params().train.lr)]
    assert changed_params(defaults, defaults) == []


def test_charts_are_png_images():
    assert line_chart({"loss": ([1, 2, 3], [0.5, 0.4, 0.45])}, "t", "epoch", "loss")[:4] == b"\x89PNG"
    rows = [{"class": str(c), "samples": "0.1", "real": "0.1"} for c in range(10)]
    assert class_histogram_chart(rows)[:4] == b"\x89PNG"


def test_markdown_report_for_unlabelled_data_says_what_is_missing():
    data = {"source": "folder", "labelled": False, "classes": 0, "train": {"count": 30}, "test": {"count": 10}, "image_shape": [3, 64, 64], "bad_images": 2}
    training = {
        "generator_updates": 3,
        "discriminator_updates": 3,
        "discriminator_loss": 1.3,
        "generator_loss": 0.7,
        "discriminator_on_real": 0.5,
        "discriminator_on_fake": 0.45,
    }
    scores = {key: value for key, value in SCORES.items() if not key.startswith("is_")}
    figures = {"losses": "figures/losses.png", "discriminator_outputs": "figures/d.png", "grid": "figures/grid.png", "panel": "figures/panel.png"}
    markdown = build_markdown(data, {"task": "rotation", "test_accuracy": 0.86}, training, scores, None, [], figures)
    assert "unlabelled, 2 unreadable files skipped" in markdown and "Evaluator** (rotation): test accuracy 0.860" in markdown
    assert "No class histogram" in markdown and "No FID during training" in markdown and "None: this is the default run." in markdown
    assert "Inception Score" not in markdown
    assert "From the generator at the end of training." in markdown
    best = build_markdown(data, {"test_accuracy": 0.86}, {**training, "best_epoch": 36, "best_fid": 2.345}, scores, None, [], figures, "best")
    assert "From the generator of epoch 36, the lowest quick FID (2.35, on the training split)." in best


def test_output_check_finds_missing_outputs_missing_keys_and_non_finite_metrics(tmp_path):
    (tmp_path / "dvc.yaml").write_text(
        "stages:\n  evaluate:\n    cmd: x\n    outs: [data/samples]\n    metrics:\n      - metrics/eval.json:\n          cache: false\n"
    )
    (tmp_path / "metrics").mkdir()
    (tmp_path / "metrics/eval.json").write_text(
        json.dumps({"fid": math.nan, "fid_real": 0.2, "kid_mean": 1.0, "kid_mean_real": 0.0, "precision": 1.0, "n_samples": 5})
    )
    problems = problems_with_outputs(tmp_path)
    assert "data/samples: declared in dvc.yaml, not written" in problems
    assert "metrics/eval.json: recall missing" in problems
    assert "metrics/eval.json: fid = nan is not finite" in problems
    assert len(problems) == 3
    (tmp_path / "data/samples").mkdir(parents=True)
    (tmp_path / "metrics/eval.json").write_text(
        json.dumps(dict.fromkeys(("fid", "fid_real", "kid_mean", "kid_mean_real", "precision", "recall", "n_samples"), 1.0))
    )
    assert problems_with_outputs(tmp_path) == []


def test_a_bad_profile_is_refused_before_anything_is_copied(tmp_path, capsys):
    from ganyard.reproduce import main

    profile = tmp_path / "bad.yaml"
    profile.write_text("train:\n  lr: -1\n")
    from pathlib import Path

    repo = Path(__file__).resolve().parents[1]
    assert main(["--profile", str(profile), "--workdir", str(tmp_path / "work"), "--repo", str(repo)]) == 2
    assert "train.lr = -1.0" in capsys.readouterr().err and not (tmp_path / "work").exists()


def test_line_chart_draws_log_y_only_where_every_value_is_positive():
    falling = {"fid": ([2, 4, 6], [300.0, 10.0, 1.0])}
    assert line_chart(falling, "t", "epoch", "FID", log_y=True) != line_chart(falling, "t", "epoch", "FID")
    with_zero = {"loss": ([1, 2, 3], [0.0, 0.4, 0.45])}
    assert line_chart(with_zero, "t", "epoch", "loss", log_y=True) == line_chart(with_zero, "t", "epoch", "loss")


def test_a_thousand_modes_are_drawn_by_rank_at_a_readable_size():
    import io

    from PIL import Image

    rows = [{"class": f"{mode:03d}", "samples": str(0.002 if mode < 500 else 0.0), "real": "0.001"} for mode in range(1000)]
    with Image.open(io.BytesIO(class_histogram_chart(rows))) as chart:
        assert chart.width < 1200 and chart.height < 600  # one bar per class would be 450 inches wide
