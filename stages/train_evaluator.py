"""Stage train_evaluator: data/prepared -> models/evaluator.pt, metrics/evaluator.json (test accuracy)."""

import time

from ganyard import paths
from ganyard.cpu import use_deterministic_algorithms
from ganyard.data.stacked import DIGITS
from ganyard.evaluator import accuracy, stacked_evaluator, train_evaluator
from ganyard.io import load_torch, save_json, save_torch
from ganyard.stage import run_stage


def main(params) -> None:
    train = load_torch(paths.TRAIN_DATA, "prepared training data")
    test = load_torch(paths.TEST_DATA, "prepared test data")
    use_deterministic_algorithms()
    started = time.perf_counter()
    class_names = train["class_names"]
    classes = len(class_names) if class_names is not None else None
    results = {}
    if "digits" in train:  # Stacked MNIST: a digit classifier, trained on the split's single digits, reads each channel
        digits = train_evaluator(train["digits"], train["digit_labels"], params.evaluator, params.evaluator.seed, classes=DIGITS)
        results.update(
            digit_test_accuracy=accuracy(digits, test["digits"], test["digit_labels"]),
            digit_train_accuracy=accuracy(digits, train["digits"], train["digit_labels"]),
        )
        model = stacked_evaluator(digits, channels=train["images"].shape[1])
    else:
        model = train_evaluator(train["images"], train["labels"], params.evaluator, params.evaluator.seed, classes)
    seconds = time.perf_counter() - started
    results = {
        "task": model.task,  # classes, rotation(_colour) on unlabelled data, or stacked (a digit per channel)
        "test_accuracy": accuracy(model, test["images"], test["labels"]),  # stacked: all three digits right
        "train_accuracy": accuracy(model, train["images"], train["labels"]),
        **results,
    }
    save_torch({"config": model.config, "state_dict": model.state_dict()}, paths.EVALUATOR)
    save_json(results, paths.EVALUATOR_METRICS)
    print(f"evaluator ({model.task}): test accuracy {results['test_accuracy']:.4f}, train accuracy {results['train_accuracy']:.4f}, {seconds:.1f} s")


if __name__ == "__main__":
    run_stage("train_evaluator", main)
