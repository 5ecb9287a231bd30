"""End to end on the user's own pictures: a tiny flat folder of 3-channel images at size 64, real `dvc repro`."""

import json
import math

import numpy as np
import pytest
import torch
from PIL import Image, ImageDraw
from pipeline_repo import TINY, copy_of_the_repository, digest, dvc, set_params, stages_run

pytestmark = pytest.mark.slow

FOLDER = {
    **TINY,
    "data": {"source": "folder", "path": "photos", "image_size": 64, "test_fraction": 0.25},
    "train": {**TINY["train"], "batch_size": 8},
    "evaluator": {**TINY["evaluator"], "batch_size": 8},
    "evaluate": {**TINY["evaluate"], "kid_subset_size": 10},
}


def write_pictures(folder, count: int, seed: int = 0) -> None:
    """Coloured discs on coloured backgrounds, of varied sizes and formats (JPEG and PNG)."""
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    for index in range(count):
        width, height = rng.integers(60, 110, size=2)
        picture = Image.new("RGB", (int(width), int(height)), tuple(int(v) for v in rng.integers(0, 120, 3)))
        x, y, radius = rng.integers(10, 50), rng.integers(10, 50), rng.integers(8, 25)
        ImageDraw.Draw(picture).ellipse((x, y, x + 2 * radius, y + 2 * radius), fill=tuple(int(v) for v in rng.integers(120, 256, 3)))
        picture.save(folder / f"picture_{seed}_{index:03d}.{'jpg' if index % 2 else 'png'}")


@pytest.fixture(scope="module")
def repo(tmp_path_factory):
    root = tmp_path_factory.mktemp("folder") / "ganyard"
    root.mkdir()
    write_pictures(root / "photos", 40)
    copy_of_the_repository(root, FOLDER)
    first = dvc(root, "repro")
    root.joinpath("first_repro.log").write_text(first.stdout + first.stderr)
    return root


def test_the_whole_pipeline_runs_on_a_flat_folder_of_colour_images(repo):
    log = (repo / "first_repro.log").read_text()
    assert "prepared 30 train and 10 test images of shape [3, 64, 64] (unlabelled) from folder" in log
    data = json.loads((repo / "metrics/data.json").read_text())
    assert data["labelled"] is False and data["image_shape"] == [3, 64, 64] and data["bad_images"] == 0
    assert json.loads((repo / "metrics/evaluator.json").read_text())["task"] == "rotation"
    samples = torch.load(repo / "data/samples/samples.pt", weights_only=True)["images"]
    assert samples.shape[1:] == (3, 64, 64)
    assert Image.open(repo / "data/samples/grid.png").mode == "RGB"
    scores = json.loads((repo / "metrics/eval.json").read_text())
    for key in ("fid", "kid_mean", "precision", "recall"):
        assert math.isfinite(scores[key]) and math.isfinite(scores[f"{key}_real"])
    assert "is_mean" not in scores and "coverage" not in scores  # no classes to score against
    assert (repo / "data/stylized/panel.png").is_file()


def test_adding_an_image_reruns_prepare_and_nothing_else_does(repo):
    assert stages_run(dvc(repo, "repro").stdout) == []
    (repo / "photos" / "notes.txt").write_text("not a picture: ignored, yet the folder changed")
    ran = stages_run(dvc(repo, "repro").stdout)
    # The prepared images came out the same, so nothing that uses them reran; the report did, since
    # metrics/data.json now counts one ignored file.
    assert ran == ["prepare", "report"]
    assert json.loads((repo / "metrics/data.json").read_text())["ignored_files"] == 1
    write_pictures(repo / "photos", 1, seed=1)
    assert "prepare" in dvc(repo, "status").stdout
    ran = stages_run(dvc(repo, "repro").stdout)
    assert ran[0] == "prepare" and "train" in ran
    assert json.loads((repo / "metrics/data.json").read_text())["train"]["count"] == 30  # 41 images: 30 train, 11 test


def test_a_bad_image_is_named_and_under_fail_keeps_the_previous_data(repo):
    kept = {name: digest(repo / name) for name in ("data/prepared/train.pt", "data/prepared/test.pt", "metrics/data.json")}
    good = (repo / "params.yaml").read_text()
    (repo / "photos" / "broken.jpg").write_bytes((repo / "photos" / "picture_0_001.jpg").read_bytes()[:300])
    set_params(repo, {"data": {"on_bad_image": "fail"}})
    result = dvc(repo, "repro", check=False)
    assert result.returncode != 0 and "broken.jpg: cannot be decoded" in result.stderr
    assert "data.on_bad_image = 'fail'" in result.stderr
    assert {name: digest(repo / name) for name in kept} == kept
    (repo / "params.yaml").write_text(good)
    result = dvc(repo, "repro")
    assert "skipped 1 unreadable files" in result.stdout and "broken.jpg" in result.stdout
    assert json.loads((repo / "metrics/data.json").read_text())["bad_images"] == 1
    assert (repo / "data/prepared/bad_images.txt").read_text().startswith("broken.jpg\tcannot be decoded")


def test_class_conditioning_on_a_flat_folder_is_refused_before_anything_runs(repo):
    kept = digest(repo / "models/generator.pt")
    good = (repo / "params.yaml").read_text()
    set_params(repo, {"model": {"conditional": True}})
    result = dvc(repo, "repro", check=False)
    (repo / "params.yaml").write_text(good)
    assert result.returncode != 0 and "model.conditional = true needs labelled images" in result.stderr
    assert stages_run(result.stdout) == ["check_params"] and digest(repo / "models/generator.pt") == kept
