"""studies/rescore.py: samples of another size are shrunk as the prepare stage shrinks pictures, or refused."""

import importlib.util
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch
import yaml

from ganyard import paths
from ganyard.data.prepare import prepare_images

REPO = Path(__file__).resolve().parents[1]
spec = importlib.util.spec_from_file_location("studies_rescore", REPO / "studies" / "rescore.py")
rescore = importlib.util.module_from_spec(spec)
spec.loader.exec_module(rescore)


def test_shrunk_samples_are_what_the_prepare_stage_makes_of_the_same_8_bit_pictures():
    pictures = torch.randint(0, 256, (3, 3, 128, 128), dtype=torch.uint8)
    samples = prepare_images(pictures, 128)  # what a 128-px run's data looks like, in [-1, 1]
    assert torch.equal(rescore.shrink(samples, 64), prepare_images(pictures, 64))
    assert rescore.shrink(torch.full((1, 3, 128, 128), 0.5), 32).shape == (1, 3, 32, 32)


def test_samples_of_another_size_are_refused_unless_shrink_and_smaller_ones_always(monkeypatch, tmp_path):
    base = yaml.safe_load((REPO / "params.yaml").read_text())
    base["data"]["image_size"] = 64
    for size in (128, 32):
        samples = tmp_path / f"samples{size}.pt"
        torch.save({"images": torch.zeros(4, 1, size, size)}, samples)
        refs = {"evaluated-seed0": "ref-a", f"large-seed{size}": "ref-b"}
        studies = SimpleNamespace(
            experiment_refs=lambda refs=refs: refs,
            evaluated=lambda ref: ref == "ref-a",  # the other ran to the sample stage only
            cached_output=lambda ref, path, samples=samples: samples if path == paths.SAMPLE_IMAGES else pytest.fail(f"read {path} before refusing"),
        )
        monkeypatch.setattr(rescore, "load_studies", lambda studies=studies: studies)
        monkeypatch.setattr(rescore, "git_text", lambda ref, path: yaml.safe_dump(base))
        for flags in ([],) if size == 128 else ([], ["--shrink"]):  # 128 with --shrink is scored
            monkeypatch.setattr(sys, "argv", ["rescore.py", "--evaluator-from", "evaluated-seed0", *flags, f"large-seed{size}"])
            with pytest.raises(SystemExit, match=f"reads 64-px pictures and the samples of large-seed{size} {size} px are not; pass --shrink"):
                rescore.main()
        # an experiment run to the sample stage has no evaluator that scored anything
        monkeypatch.setattr(sys, "argv", ["rescore.py", "--evaluator-from", f"large-seed{size}", "evaluated-seed0"])
        with pytest.raises(SystemExit, match=f"--evaluator-from large-seed{size} stopped before the evaluate stage"):
            rescore.main()
