"""End to end: the real `dvc repro` on a tiny params override, in a copy of the repository."""

import json
import math
import re
import sys
from pathlib import Path

import pytest
import yaml
from pipeline_repo import declared_outputs, digest, dvc, run, set_params, stages_run, tiny_repository_after_first_repro

ALL_STAGES = {"check_params", "prepare", "train_evaluator", "real_stats", "train", "sample", "evaluate", "stylize", "report"}
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def repo(tmp_path_factory):
    return tiny_repository_after_first_repro(tmp_path_factory, "pipeline")


def test_first_repro_runs_every_stage_and_writes_every_declared_output(repo):
    ran = stages_run((repo / "first_repro.log").read_text())
    assert set(ran) == ALL_STAGES and len(ran) == len(ALL_STAGES) and ran[0] == "check_params"
    for path in declared_outputs(repo):
        assert path.exists(), f"{path} declared in dvc.yaml but not written"
    summary = json.loads((repo / "metrics/train/metrics.json").read_text())
    for key in ("discriminator_loss", "generator_loss", "discriminator_on_real", "discriminator_on_fake", "generator_updates"):
        assert key in summary
    data = json.loads((repo / "metrics/data.json").read_text())
    assert data["train"]["count"] + data["test"]["count"] == 300
    assert (repo / "metrics/train/plots/images/preview/epoch_0001.png").is_file()
    assert (repo / "data/samples/grid.png").is_file()
    scores = json.loads((repo / "metrics/eval.json").read_text())
    for key in ("fid", "is_mean", "kid_mean", "precision", "recall", "coverage", "class_entropy"):
        assert math.isfinite(scores[key]) and math.isfinite(scores[f"{key}_real"])
    assert scores["n_samples"] == 40 and scores["backbone"] == "evaluator"
    assert "test_accuracy" in json.loads((repo / "metrics/evaluator.json").read_text())
    assert (repo / "metrics/train/plots/metrics/fid.tsv").is_file()
    style = json.loads((repo / "metrics/style.json").read_text())
    assert style["weights"] == "random" and style["steps"] >= 5 and math.isfinite(style["judge_style_distance_result"])


def test_report_links_every_figure_it_wrote_and_dvc_plots_renders(repo):
    report = (repo / "reports/report.md").read_text()
    assert report.startswith("# ganyard report") and "| FID (`fid`) |" in report
    assert "`data.limit` | 300 | None" in report  # TINY's changes from the defaults are listed
    linked = re.findall(r"!\[[^\]]*\]\(([^)]+)\)", report)
    figures = {"losses.png", "fid.png", "discriminator_outputs.png", "grid.png", "interpolation.gif", "classes.png", "panel.png"}
    assert {Path(link).name for link in linked} == figures
    for link in linked:
        assert (repo / "reports" / link).read_bytes()[:4] == (b"GIF8" if link.endswith(".gif") else b"\x89PNG")
    rows = (repo / "metrics/class_histogram.csv").read_text().splitlines()
    assert rows[0] == "class,samples,real" and len(rows) == 11
    assert sum(float(row.split(",")[2]) for row in rows[1:]) == pytest.approx(1.0, abs=1e-5)
    dvc(repo, "plots", "show", "--out", str(repo.parent / "plots_html"))
    html = (repo.parent / "plots_html" / "index.html").read_text()
    for title in ("Discriminator and generator loss", "FID on the evaluator", "Share of the samples per class"):
        assert title in html


def test_outputs_are_git_ignored_and_metrics_are_not(repo):
    untracked = run(["git", "status", "--porcelain", "--untracked-files=all"], repo).stdout
    assert "data/" not in untracked and "models/" not in untracked and "plots/images" not in untracked
    assert "metrics/train/metrics.json" in untracked and "dvc.lock" in untracked


def test_second_repro_runs_nothing(repo):
    assert stages_run(dvc(repo, "repro").stdout) == []


def test_verify_reruns_the_pipeline_in_a_clean_copy_and_lists_exactly_what_differs_from_the_committed_results(repo, tmp_path):
    # Two planted differences: a metric and an output hash of the "committed" results. Everything else must
    # come back bit for bit (same machine, same kernels), so these two are the whole list.
    lock, scores = repo / "dvc.lock", repo / "metrics/eval.json"
    good_lock, good_scores = lock.read_text(), scores.read_text()
    generator_md5 = next(out["md5"] for out in yaml.safe_load(good_lock)["stages"]["train"]["outs"] if out["path"] == "models/generator.pt")
    fid = json.loads(good_scores)["fid"]
    try:
        lock.write_text(good_lock.replace(generator_md5, "f" * 32, 1))  # train's out, before sample's dep on it
        scores.write_text(json.dumps({**json.loads(good_scores), "fid": 123.0}))
        result = run([sys.executable, "-m", "ganyard.verify", "--repo", str(repo), "--workdir", str(tmp_path / "copy")], repo, check=False)
    finally:
        lock.write_text(good_lock)
        scores.write_text(good_scores)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "checked bit for bit (this machine selects the committing machine's kernels: torch " in result.stderr
    listed = result.stderr.split("differences from the committed results:\n")[1].splitlines()
    assert [line.strip() for line in listed] == [
        f"dvc.lock train: outs models/generator.pt: {'f' * 32} -> {generator_md5}",
        f"metrics/eval.json: fid: 123.0 -> {fid!r}",
    ]
    assert stages_run(dvc(repo, "repro").stdout) == []  # the checked repository itself was not touched


def test_changing_sample_count_does_not_retrain(repo):
    set_params(repo, {"sample": {"count": 30}})
    assert set(stages_run(dvc(repo, "repro").stdout)) == {"check_params", "sample", "evaluate", "stylize", "report"}
    assert json.loads((repo / "metrics/eval.json").read_text())["n_samples"] == 30


def test_changing_which_generator_to_sample_does_not_retrain(repo):
    before = digest(repo / "data/samples/samples.pt")
    set_params(repo, {"sample": {"checkpoint": "last"}})
    ran = stages_run(dvc(repo, "repro").stdout)
    set_params(repo, {"sample": {"checkpoint": "best"}})
    dvc(repo, "repro")
    # TINY trains one epoch, whose quick FID is the only one: the best generator is the last, the same samples
    assert set(ran) == {"check_params", "sample", "report"} and digest(repo / "data/samples/samples.pt") == before


def test_changing_an_evaluate_key_only_rescores(repo):
    set_params(repo, {"evaluate": {"kid_subsets": 4}})
    assert set(stages_run(dvc(repo, "repro").stdout)) == {"check_params", "evaluate", "report"}


def test_changing_a_style_key_reruns_only_stylize(repo):
    set_params(repo, {"style": {"tv_weight": 2.0}})
    assert set(stages_run(dvc(repo, "repro").stdout)) == {"check_params", "stylize", "report"}


def test_imagenet_weights_from_a_file_are_used_and_recorded(repo, tmp_path):
    """style.weights: imagenet reads the file at style.weights_path (here one the test writes, in torchvision's key
    names) and records which file, by path and SHA-256, in metrics/style.json."""
    import hashlib

    import torch

    from ganyard.style import random_vgg19_features

    path = tmp_path / "vgg19-dcbb9e9d.pth"
    torch.save({f"features.{key}": value for key, value in random_vgg19_features(11).state_dict().items()}, path)
    good = (repo / "params.yaml").read_text()
    set_params(repo, {"style": {"weights": "imagenet", "weights_path": str(path)}})
    assert set(stages_run(dvc(repo, "repro").stdout)) == {"check_params", "stylize", "report"}
    metrics = json.loads((repo / "metrics/style.json").read_text())
    (repo / "params.yaml").write_text(good)
    dvc(repo, "repro")
    assert metrics["weights"] == "imagenet" and metrics["weights_file"] == str(path)
    assert metrics["weights_sha256"] == hashlib.sha256(path.read_bytes()).hexdigest()


def test_a_missing_style_image_is_named_and_keeps_the_previous_result(repo):
    before = digest(repo / "data/stylized/panel.png")
    good = (repo / "params.yaml").read_text()
    set_params(repo, {"style": {"style_image": "no/such/picture.jpg"}})
    result = dvc(repo, "repro", check=False)
    (repo / "params.yaml").write_text(good)
    assert result.returncode != 0 and "style.style_image = 'no/such/picture.jpg'" in result.stderr
    assert stages_run(result.stdout) == ["check_params"]
    assert digest(repo / "data/stylized/panel.png") == before
    assert stages_run(dvc(repo, "repro").stdout) == []


def test_bad_params_stop_before_compute_and_keep_previous_outputs(repo):
    kept_files = (
        "models/generator.pt",
        "models/evaluator.pt",
        "data/samples/samples.pt",
        "data/prepared/train.pt",
        "data/real_stats/features.pt",
        "metrics/eval.json",
    )
    kept = {path: digest(path) for path in (repo / name for name in kept_files)}
    good = (repo / "params.yaml").read_text()
    for override, key in (({"train": {"lr": -1}}, "train.lr"), ({"model": {"architecture": "foo"}}, "model.architecture")):
        set_params(repo, override)
        result = dvc(repo, "repro", check=False)
        assert result.returncode != 0
        assert key in result.stderr + result.stdout
        assert stages_run(result.stdout) == ["check_params"]
        assert {path: digest(path) for path in kept} == kept
        (repo / "params.yaml").write_text(good)
    # Once the value is fixed, nothing needs recomputing.
    assert stages_run(dvc(repo, "repro").stdout) == []
    assert {path: digest(path) for path in kept} == kept


def test_same_params_and_seed_give_bit_identical_models_samples_and_scores(repo):
    names = ("models/evaluator.pt", "models/generator.pt", "data/samples/samples.pt", "metrics/eval.json")
    before = {name: digest(repo / name) for name in names}
    for stage in ("train_evaluator", "train", "sample", "evaluate"):
        dvc(repo, "repro", "--force", "--single-item", stage)
    assert {name: digest(repo / name) for name in names} == before
