"""Every file and folder the pipeline's stages read and write, named once.

dvc.yaml declares the same paths as the stages' deps and outs; tests/test_paths.py checks that every
path here is declared there (or lies in a declared folder) and that every declared output has a name
here, so the two cannot drift apart. Relative to the repository root, where DVC runs the stages.
"""

from pathlib import Path

PARAMS_OK = Path("data/params.ok")  # check_params: params.yaml passed validation

PREPARED = Path("data/prepared")  # prepare
TRAIN_DATA = PREPARED / "train.pt"
TEST_DATA = PREPARED / "test.pt"
BAD_IMAGES = PREPARED / "bad_images.txt"
DATA_METRICS = Path("metrics/data.json")

EVALUATOR = Path("models/evaluator.pt")  # train_evaluator
EVALUATOR_METRICS = Path("metrics/evaluator.json")

REAL_STATS = Path("data/real_stats")  # real_stats
REAL_FEATURES = REAL_STATS / "features.pt"

GENERATOR = Path("models/generator.pt")  # train
GENERATOR_BEST = Path("models/generator_best.pt")
SAMPLED_GENERATOR = {"best": GENERATOR_BEST, "last": GENERATOR}  # the generator file of each sample.checkpoint
CHECKPOINTS = Path("models/checkpoints")  # persistent: a killed run resumes from it
CHECKPOINT = CHECKPOINTS / "last.pt"
SET_ASIDE = Path("models/set_aside")  # checkpoints of other runs, moved away instead of resumed; not a DVC output
TRAIN_METRICS = Path("metrics/train")  # dvclive's log, each file published whole from TRAIN_STAGING
TRAIN_SUMMARY = TRAIN_METRICS / "metrics.json"
TRAIN_CURVES = TRAIN_METRICS / "plots" / "metrics"
TRAIN_IMAGES = TRAIN_METRICS / "plots" / "images"
TRAIN_STAGING = Path("metrics/.train-live")  # where dvclive writes (it appends in place); not a DVC output
ENVIRONMENT = Path("metrics/environment.json")

SAMPLES = Path("data/samples")  # sample
SAMPLE_IMAGES = SAMPLES / "samples.pt"
SAMPLE_GRID = SAMPLES / "grid.png"
SAMPLE_INTERPOLATION = SAMPLES / "interpolation"  # .png (a row per walk) and .gif
SAMPLE_CLASS_MORPH = SAMPLES / "class_morph"  # likewise, conditional generators only
SAMPLE_PNGS = SAMPLES / "png"  # sample.export_png

EVAL_METRICS = Path("metrics/eval.json")  # evaluate
CLASS_HISTOGRAM = Path("metrics/class_histogram.csv")

STYLIZED = Path("data/stylized")  # stylize
STYLIZED_IMAGE = STYLIZED / "result.png"
STYLIZED_PANEL = STYLIZED / "panel.png"
STYLE_METRICS = Path("metrics/style.json")

REPORT = Path("reports/report.md")  # report
FIGURES = Path("reports/figures")
