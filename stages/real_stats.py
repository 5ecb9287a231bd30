"""Stage real_stats: features of the real train and test images, once per (backbone, data) -> data/real_stats/."""

from ganyard import paths
from ganyard.io import load_torch, save_torch
from ganyard.metrics.backbones import load_backbones
from ganyard.metrics.evaluation import describe_images
from ganyard.stage import run_stage


def main(params) -> None:
    evaluator, inception = load_backbones(params.evaluate)
    description = {"backbone": params.evaluate.backbone}
    for split in ("train", "test"):
        data = load_torch(paths.PREPARED / f"{split}.pt", f"prepared {split} data")
        description[split] = describe_images(data["images"], evaluator, inception, desc=f"real {split}")
        description[f"{split}_labels"] = data["labels"]
        description["class_names"] = data["class_names"]
        description["image_shape"] = list(data["images"].shape[1:])
    save_torch(description, paths.REAL_FEATURES)
    print(
        f"real features ({params.evaluate.backbone}): train {tuple(description['train']['features'].shape)}, "
        f"test {tuple(description['test']['features'].shape)}"
    )


if __name__ == "__main__":
    run_stage("real_stats", main)
