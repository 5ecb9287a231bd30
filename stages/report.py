"""Stage report: metrics, curves, samples and the stylized panel -> reports/report.md and reports/figures/."""

import csv
import json
import shutil
from pathlib import Path

from ganyard.cli import run_stage
from ganyard.io import ArtifactError, write_atomic, write_text
from ganyard.params import Params
from ganyard.report import build_markdown, changed_params, class_histogram_chart, line_chart, read_tsv

CURVES = Path("metrics/train/plots/metrics")
FIGURES = Path("reports/figures")


def read_json(path: str) -> dict:
    try:
        return json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise ArtifactError(f"{path} cannot be read ({error}); run dvc repro") from None


def save_figure(png: bytes, name: str) -> str:
    write_atomic(FIGURES / name, lambda temporary: temporary.write_bytes(png))
    return f"figures/{name}"


def main(params) -> None:
    figures = {
        "losses": save_figure(line_chart({name: read_tsv(CURVES / f"{name}.tsv") for name in ("discriminator_loss", "generator_loss")},
                                         "Losses per epoch", "epoch", "loss"), "losses.png"),
        "discriminator_outputs": save_figure(line_chart({name: read_tsv(CURVES / f"{name}.tsv") for name in ("discriminator_on_real", "discriminator_on_fake")},
                                                        "Mean D(x) and D(G(z))", "epoch", "probability of real"), "discriminator_outputs.png"),
    }
    if (CURVES / "fid.tsv").is_file() and params.train.eval_every:
        figures["fid"] = save_figure(line_chart({"fid": read_tsv(CURVES / "fid.tsv")}, "Quick FID during training (evaluator features, training split)", "epoch", "FID", log_y=True), "fid.png")
    with open("metrics/class_histogram.csv", newline="", encoding="utf-8") as handle:
        histogram = list(csv.DictReader(handle))
    if histogram:
        figures["classes"] = save_figure(class_histogram_chart(histogram), "classes.png")
    for name, source in (("grid", "data/samples/grid.png"), ("panel", "data/stylized/panel.png")):
        write_atomic(FIGURES / f"{name}.png", lambda temporary, source=source: shutil.copyfile(source, temporary))
        figures[name] = f"figures/{name}.png"
    markdown = build_markdown(
        read_json("metrics/data.json"), read_json("metrics/evaluator.json"), read_json("metrics/train/metrics.json"),
        read_json("metrics/eval.json"), read_json("metrics/style.json"),
        changed_params(params.model_dump(), Params().model_dump()), figures, params.sample.checkpoint,
    )
    write_text(markdown, "reports/report.md")
    print(f"wrote reports/report.md with {len(figures)} figures in {FIGURES}/")


if __name__ == "__main__":
    run_stage("report", main)
