"""Stage evaluate: data/samples + data/real_stats -> metrics/eval.json (IS, FID, KID, precision/recall, coverage)."""

from ganyard import paths
from ganyard.io import load_torch, save_json, write_text
from ganyard.metrics.backbones import load_backbones
from ganyard.metrics.evaluation import class_histogram, conditional_accuracy, describe_images, evaluate_samples, mode_scores, pixel_spreads
from ganyard.stage import StageError, run_stage

SHOWN = (
    ("FID", "fid"), ("IS", "is_mean"), ("KID", "kid_mean"), ("precision", "precision"), ("recall", "recall"), ("coverage", "coverage"),
    ("pixel std", "pixel_std"), ("modes", "modes"), ("mode KL", "mode_kl"),
)  # fmt: skip


def main(params) -> None:
    real = load_torch(paths.REAL_FEATURES, "real-image features")
    if real["backbone"] != params.evaluate.backbone:
        raise StageError(f"{paths.REAL_STATS} was computed with backbone {real['backbone']!r}, not {params.evaluate.backbone!r}; run dvc repro")
    saved = load_torch(paths.SAMPLE_IMAGES, "generated samples")
    samples = saved["images"]
    if list(samples.shape[1:]) != real["image_shape"]:
        raise StageError(f"samples have shape {list(samples.shape[1:])} but the real images {real['image_shape']}; run dvc repro")
    evaluator, inception = load_backbones(params.evaluate)
    fake = describe_images(samples, evaluator, inception, desc="samples")
    scores = evaluate_samples(fake, real["train"], real["test"], real["test_labels"], params.evaluate)
    scores.update(pixel_spreads(samples, load_torch(paths.TRAIN_DATA, "prepared training images")["images"], scores["n_samples"], params.evaluate))
    if evaluator.task == "stacked":  # Stacked MNIST: how many of the 1,000 modes, how evenly (check_params saw the counts suffice)
        scores.update(mode_scores(fake, real["test"], params.evaluate.mode_samples))
    if "labels" in saved:  # a conditional generator: do its images show the class asked for?
        scores.update(conditional_accuracy(fake, saved["labels"], real["train"], real["train_labels"], scores["n_samples"], params.evaluate))
    save_json({**scores, "backbone": params.evaluate.backbone}, paths.EVAL_METRICS)
    # Stacked MNIST's histogram over the samples its mode count read, so that the report's "seen" is eval.json's modes
    rows = class_histogram(fake, real["test_labels"], real["class_names"], scores.get("mode_samples", scores["n_samples"]))
    write_text("class,samples,real\n" + "".join(f"{name},{share:.6f},{real_share:.6f}\n" for name, share, real_share in rows), paths.CLASS_HISTOGRAM)
    shown = ", ".join(f"{name} {scores[key]:.4g} (real {scores[key + '_real']:.4g})" for name, key in SHOWN if key in scores)
    print(f"{shown}, n = {scores['n_samples']}")
    if "coverage" not in scores:
        print(
            "IS, coverage and class entropy need classes: left out for unlabelled data"
            if "is_mean" not in scores
            else "coverage and class entropy need the data's classes: left out for unlabelled data"
        )


if __name__ == "__main__":
    run_stage("evaluate", main)
