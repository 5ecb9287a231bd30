"""End to end on Stacked MNIST: a tiny `data.source: stacked_mnist` run through the real `dvc repro`."""

import csv
import json

import pytest
import torch
from PIL import Image
from pipeline_repo import TINY, copy_of_the_repository, dvc

pytestmark = pytest.mark.slow

STACKED = {
    **TINY,
    "data": {"source": "stacked_mnist", "limit": 300, "stacked_train_images": 256, "stacked_test_images": 160},
    "sample": {**TINY["sample"], "count": 160},
    "evaluate": {**TINY["evaluate"], "mode_samples": 150},
}


@pytest.fixture(scope="module")
def repo(tmp_path_factory):
    root = copy_of_the_repository(tmp_path_factory.mktemp("stacked") / "ganyard", STACKED)
    dvc(root, "repro")
    return root


def test_stacked_mnist_trains_and_counts_modes_with_a_digit_reader_per_channel(repo):
    train = torch.load(repo / "data/prepared/train.pt", weights_only=True)
    assert train["images"].shape == (256, 3, 32, 32) and len(train["class_names"]) == 1000
    assert train["digits"].shape == (240, 1, 32, 32)  # the 80% of the 300 digits that train
    evaluator = json.loads((repo / "metrics/evaluator.json").read_text())
    assert evaluator["task"] == "stacked" and 0 <= evaluator["test_accuracy"] <= evaluator["digit_test_accuracy"] <= 1
    scores = json.loads((repo / "metrics/eval.json").read_text())
    assert scores["mode_samples"] == 150
    assert 1 <= scores["modes"] <= 150 and 1 <= scores["modes_real"] <= 150
    assert 0 <= scores["mode_kl_real"] <= 6.91 and 0 <= scores["mode_kl"] <= 6.91
    with open(repo / "metrics/class_histogram.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == 1000 and rows[123]["class"] == "123"
    report = (repo / "reports/report.md").read_text()
    assert "modes covered (of 1,000)" in report and "mode KL from uniform" in report
    with Image.open(repo / "reports/figures/classes.png") as chart:
        assert chart.width < 1200  # the modes by rank, not 1,000 bars
