"""Stage prepare: data source -> seeded split -> data/prepared/{train,test}.pt, bad_images.txt, metrics/data.json.

Its outputs are persistent in dvc.yaml (DVC does not delete them before running the stage), and
every file is written only after the whole source has been read: a folder with a bad image under
``data.on_bad_image: fail``, or a dataset that cannot be found, leaves the previous run's data intact.
"""

from ganyard import paths
from ganyard.data import prepare_data
from ganyard.io import save_json, save_torch, write_text
from ganyard.stage import run_stage


def main(params) -> None:
    prepared = prepare_data(params.data)
    for name, split in prepared.splits.items():
        save_torch(split.to_dict(), paths.PREPARED / f"{name}.pt")
    # Always written (empty when nothing was skipped), so the folder never keeps a stale list.
    write_text("".join(f"{name}\t{reason}\n" for name, reason in prepared.bad_files), paths.BAD_IMAGES)
    save_json(prepared.summary, paths.DATA_METRICS)
    summary = prepared.summary
    classes = f"{summary['classes']} classes" if summary["labelled"] else "unlabelled"
    print(
        f"prepared {summary['train']['count']} train and {summary['test']['count']} test images "
        f"of shape {summary['image_shape']} ({classes}) from {params.data.source}"
    )


if __name__ == "__main__":
    run_stage("prepare", main)
