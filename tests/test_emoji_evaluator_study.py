"""studies/emoji_evaluator.py: the damage it scores, and a whole run on a small folder."""

import importlib.util
import sys
from pathlib import Path

import numpy as np
import torch
from PIL import Image

REPO = Path(__file__).resolve().parent.parent
spec = importlib.util.spec_from_file_location("emoji_evaluator", REPO / "studies" / "emoji_evaluator.py")
study = importlib.util.module_from_spec(spec)
spec.loader.exec_module(study)


def test_blurring_through_the_full_size_changes_nothing_and_through_4_px_keeps_only_coarse_colour():
    images = torch.rand(3, 3, 16, 16) * 2 - 1
    assert torch.allclose(study.blurred(images, 16), images, atol=1e-6)
    coarse = study.blurred(images, 4)
    assert coarse.shape == images.shape
    assert torch.allclose(coarse.mean(dim=(2, 3)), images.mean(dim=(2, 3)), atol=0.05)  # the colour stays
    assert coarse.std() < 0.5 * images.std()  # the detail goes


def test_the_rows_are_the_real_pictures_and_their_damage():
    images = torch.rand(4, 3, 8, 8) * 2 - 1
    rows = study.damaged(images)
    assert torch.equal(rows["real (training pictures)"], images)
    assert torch.equal(rows["colour channels reordered (b, r, g)"][:, 0], images[:, 2])
    assert all(row.shape == images.shape and row.min() >= -1 and row.max() <= 1 for row in rows.values())
    assert len(rows) == 6


def test_a_whole_run_prints_a_row_per_damage_and_a_column_per_task(tmp_path, monkeypatch, capsys):
    generator = np.random.default_rng(0)
    for index in range(80):  # coloured squares off centre, so both rotation and channel order are visible
        picture = np.full((16, 16, 3), 255, np.uint8)
        corner = generator.integers(0, 4)
        picture[corner : corner + 8, corner : corner + 6] = generator.integers(0, 256, 3)
        Image.fromarray(picture).save(tmp_path / f"{index}.png")
    monkeypatch.setattr(sys, "argv", ["emoji_evaluator.py", "--data", str(tmp_path), "--epochs", "1"])
    monkeypatch.setattr(study, "IMAGE_SIZE", 16)
    study.main()
    table = capsys.readouterr().out.splitlines()
    assert table[2].startswith("| pictures | rotation (test accuracy 0.") and "| rotation_colour (test accuracy 0." in table[2]
    rows = [line for line in table[4:] if line.startswith("| ")]
    assert [line.split(" | ")[0] for line in rows] == ["| " + name for name in study.damaged(torch.zeros(1, 3, 2, 2))]
    assert all(line.count(" / ") == 2 for line in rows)  # FID / recall under each of the two evaluators
