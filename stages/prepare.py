"""Stage prepare: data source -> seeded stratified split -> data/prepared/{train,test}.pt, metrics/data.json."""

from ganyard.cli import run_stage
from ganyard.data import PreparedSplit, load_source, prepare_images, split_stratified, summarize
from ganyard.io import save_json, save_torch


def main(params) -> None:
    data = params.data
    images, labels = load_source(data.source)
    train_indices, test_indices = split_stratified(labels, data.test_fraction, data.split_seed, data.limit)
    splits = {
        name: PreparedSplit(prepare_images(images[indices], data.image_size), labels[indices])
        for name, indices in (("train", train_indices), ("test", test_indices))
    }
    for name, split in splits.items():
        save_torch(split.to_dict(), f"data/prepared/{name}.pt")
    summary = summarize(splits, classes=int(labels.max()) + 1)
    save_json({"source": data.source, **summary}, "metrics/data.json")
    print(f"prepared {summary['train']['count']} train and {summary['test']['count']} test images "
          f"of shape {summary['image_shape']} from {data.source}")


if __name__ == "__main__":
    run_stage("prepare", main)
