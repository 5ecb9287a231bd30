"""The run's report: reports/report.md with its figures, from the files the other stages wrote.

Figures are drawn with matplotlib (Agg backend, no display needed); the markdown links them by
relative path, so the report reads the same on GitHub, in a CML comment or in a local viewer.
"""

from __future__ import annotations

import csv
import io
import json
import math
import shutil
from collections.abc import Mapping
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402  (after choosing the backend)

from ganyard import paths  # noqa: E402
from ganyard.io import ArtifactError, write_atomic  # noqa: E402

# eval.json keys shown in the scores table, with which way is better
SCORES = (
    ("fid", "FID", "lower"),
    ("kid_mean", "KID", "lower"),
    ("is_mean", "Inception Score", "higher"),
    ("precision", "precision", "higher"),
    ("recall", "recall", "higher"),
    ("coverage", "class coverage", "higher"),
    ("class_entropy", "class entropy (nats)", "higher"),
    ("conditional_accuracy", "conditional accuracy", "higher"),
    ("pixel_std", "pixel spread (std across images)", "near real"),
    ("modes", "modes covered (of 1,000)", "higher"),
    ("mode_kl", "mode KL from uniform (nats)", "lower"),
)


def read_tsv(path: str | Path) -> tuple[list[float], list[float]]:
    """A dvclive metric file (columns step, <name>, ...) -> (steps, values)."""
    with open(path, newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle, delimiter="\t"))
    name = Path(path).stem
    return [float(row["step"]) for row in rows], [float(row[name]) for row in rows]


def figure_png(figure) -> bytes:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=110)
    plt.close(figure)
    return buffer.getvalue()


def line_chart(series: Mapping[str, tuple[list[float], list[float]]], title: str, x_label: str, y_label: str, log_y: bool = False) -> bytes:
    """PNG bytes of one line per named (x, y) series; ``log_y`` draws y on a log scale where every value is
    positive (an FID falling from 300 to 1 shows its last, converging epochs only so)."""
    figure, axis = plt.subplots(figsize=(6, 3.4))
    for name, (x, y) in series.items():
        axis.plot(x, y, marker="o" if len(x) < 30 else None, markersize=3, label=name)
    axis.set(title=title, xlabel=x_label, ylabel=y_label)
    if log_y and all(value > 0 for _, y in series.values() for value in y):
        axis.set_yscale("log")
    axis.grid(alpha=0.3, which="both" if log_y else "major")
    if len(series) > 1:
        axis.legend()
    figure.tight_layout()
    return figure_png(figure)


MAX_CLASS_BARS = 50  # more classes (Stacked MNIST's 1,000 modes) are drawn as shares by rank, not a bar each


def class_histogram_chart(rows: list[dict[str, str]]) -> bytes:
    """PNG bytes of the share of samples and of real test images per class (rows of class_histogram.csv); above
    MAX_CLASS_BARS classes, each set's shares sorted from the most frequent class down, beside the uniform share."""
    if len(rows) > MAX_CLASS_BARS:
        return mode_shares_chart(rows)
    names = [row["class"] for row in rows]
    positions = range(len(names))
    figure, axis = plt.subplots(figsize=(max(4.0, 0.45 * len(names) + 2), 3.4))
    width = 0.4
    axis.bar([p - width / 2 for p in positions], [float(row["samples"]) for row in rows], width, label="samples (evaluator's class)")
    axis.bar([p + width / 2 for p in positions], [float(row["real"]) for row in rows], width, label="real test images")
    axis.set_xticks(list(positions), names, rotation=45 if max(map(len, names)) > 3 else 0, ha="right" if max(map(len, names)) > 3 else "center")
    axis.set(title="Classes of the generated images", ylabel="share")
    axis.legend(fontsize=8)
    figure.tight_layout()
    return figure_png(figure)


def mode_shares_chart(rows: list[dict[str, str]]) -> bytes:
    """PNG bytes: the share of each class (mode) among the samples and among the real test images, each sorted in
    descending order over the rank; a collapsed generator's curve falls to 0 long before the last rank."""
    figure, axis = plt.subplots(figsize=(7.5, 3.4))
    ranks = range(1, len(rows) + 1)
    for column, label in (("samples", "samples (evaluator's mode)"), ("real", "real test images")):
        axis.step(ranks, sorted((float(row[column]) for row in rows), reverse=True), where="mid", label=label)
    axis.axhline(1 / len(rows), color="grey", linestyle="--", linewidth=1, label=f"uniform (1/{len(rows)})")
    missing = sum(float(row["samples"]) == 0 for row in rows)
    axis.set(title=f"Modes of the generated images, most frequent first ({len(rows) - missing} of {len(rows)} seen)", xlabel="rank", ylabel="share")
    axis.set_xlim(1, len(rows))
    axis.grid(alpha=0.3)
    axis.legend(fontsize=8)
    figure.tight_layout()
    return figure_png(figure)


def scores_table(scores: Mapping[str, float]) -> str:
    """Markdown table of the samples' scores beside what real images get at the same sample size."""
    lines = ["| score | samples | real images (floor) | better |", "| --- | --- | --- | --- |"]
    for key, name, better in SCORES:
        if key in scores:
            real = scores.get(f"{key}_real")
            lines.append(f"| {name} (`{key}`) | {_number(scores[key])} | {_number(real) if real is not None else ''} | {better} |")
    return "\n".join(lines)


def _number(value: float) -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return str(value)
    return f"{value + 0.0:.4g}"  # + 0.0: no "-0"


def changed_params(params: Mapping, defaults: Mapping, prefix: str = "") -> list[tuple[str, object, object]]:
    """(dotted key, value, default) for every param that differs from its default."""
    changed = []
    for key, value in params.items():
        default = defaults.get(key)
        if isinstance(value, Mapping) and isinstance(default, Mapping):
            changed += changed_params(value, default, f"{prefix}{key}.")
        elif value != default:
            changed.append((f"{prefix}{key}", value, default))
    return changed


def build_markdown(
    data: Mapping,
    evaluator: Mapping,
    training: Mapping,
    scores: Mapping,
    style: Mapping | None,
    changed: list[tuple[str, object, object]],
    figures: Mapping[str, str],
    checkpoint: str = "last",
) -> str:
    """reports/report.md from the metrics files' contents and the figures' relative paths by name;
    ``checkpoint`` is ``sample.checkpoint``, the generator the samples come from."""
    classes = f"{data['classes']} classes" if data.get("labelled") else "unlabelled"
    bad = f", {data['bad_images']} unreadable files skipped" if data.get("bad_images") else ""
    lines = [
        "# ganyard report",
        "",
        f"**Data**: `{data['source']}`, {data['train']['count']} training and {data['test']['count']} test images of shape "
        f"{' x '.join(map(str, data['image_shape']))}, {classes}{bad}.  ",
        f"**Evaluator** ({evaluator.get('task', 'classes')}): test accuracy {evaluator['test_accuracy']:.3f}.  ",
        f"**Training**: {int(training['generator_updates'])} generator and {int(training['discriminator_updates'])} discriminator updates "
        f"; final losses D {training['discriminator_loss']:.3f}, G {training['generator_loss']:.3f}, "
        f"D(x) {training['discriminator_on_real']:.2f}, D(G(z)) {training['discriminator_on_fake']:.2f}.",
        "",
        "## Params that differ from the defaults",
        "",
    ]
    if changed:
        lines += ["| param | value | default |", "| --- | --- | --- |"]
        lines += [f"| `{key}` | {value} | {default} |" for key, value, default in changed]
    else:
        lines.append("None: this is the default run.")
    lines += [
        "",
        f"## Scores ({int(scores['n_samples'])} samples against {int(scores['n_reference'])} test images, backbone `{scores['backbone']}`)",
        "",
        scores_table(scores),
        "",
        "The real-images column scores as many training images against the same test images: what a perfect generator would get.",
        "",
        "## Training",
        "",
        f"![losses]({figures['losses']})",
        "",
    ]
    if "fid" in figures:
        lines += [f"![FID during training]({figures['fid']})", ""]
    else:
        lines += ["(No FID during training: `train.eval_every` is 0.)", ""]
    lines += [f"![D(x) and D(G(z))]({figures['discriminator_outputs']})", "", "## Samples", ""]
    if checkpoint == "best" and "best_epoch" in training:
        lines += [f"From the generator of epoch {int(training['best_epoch'])}, the lowest quick FID ({training['best_fid']:.3g}, on the training split).", ""]
    else:
        lines += ["From the generator at the end of training.", ""]
    lines += [f"![samples]({figures['grid']})", ""]
    if "interpolation" in figures:
        lines += ["Walks between two random latent points (spherical interpolation), one per tile:", "", f"![interpolation]({figures['interpolation']})", ""]
    if "class_morph" in figures:
        lines += ["Each class morphing into the next at one fixed z per tile:", "", f"![class morph]({figures['class_morph']})", ""]
    if "classes" in figures:
        lines += [f"![classes of the samples]({figures['classes']})", ""]
    else:
        lines += ["(No class histogram: the data is unlabelled.)", ""]
    lines += ["## Style transfer", "", f"![content, style, result]({figures['panel']})", ""]
    if style:
        lines.append(
            f"Judged by a VGG19 the optimization never saw: style distance to the style image {style['judge_style_distance_result']:.3g} "
            f"(the content image: {style['judge_style_distance_content']:.3g}); content distance {style['judge_content_distance_result']:.3g} "
            f"(the style image: {style['judge_content_distance_style']:.3g}); {style['steps']} steps, weights `{style['weights']}`."
        )
        lines.append(
            f"Colour-histogram distance to the style {style['judge_colour_distance_result']:.3g} (the content image: "
            f"{style['judge_colour_distance_content']:.3g}); similarity of the luminance edges to the content's "
            f"{style['judge_edge_similarity_result']:.3g} (the style image: {style['judge_edge_similarity_style']:.3g})."
        )
    return "\n".join(lines) + "\n"


def read_json(path: str | Path) -> dict:
    """A metrics file another stage wrote; ArtifactError (with what to do) when it is missing or broken."""
    try:
        return json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise ArtifactError(f"{path} cannot be read ({error}); run dvc repro") from None


def write_figures(folder: Path, quick_fid: bool) -> dict[str, str]:
    """Draw the report's figures into ``folder`` (each written atomically) from the other stages' files:
    losses, D's outputs, the quick FID (when ``quick_fid`` and logged), the class histogram, and copies of
    the sample grid and the style panel. Returns name -> path relative to the report."""

    def save(png: bytes, name: str) -> str:
        write_atomic(folder / name, lambda temporary: temporary.write_bytes(png))
        return f"{folder.name}/{name}"

    curves = paths.TRAIN_CURVES
    losses = {name: read_tsv(curves / f"{name}.tsv") for name in ("discriminator_loss", "generator_loss")}
    outputs = {name: read_tsv(curves / f"{name}.tsv") for name in ("discriminator_on_real", "discriminator_on_fake")}
    figures = {
        "losses": save(line_chart(losses, "Losses per epoch", "epoch", "loss"), "losses.png"),
        "discriminator_outputs": save(line_chart(outputs, "Mean D(x) and D(G(z))", "epoch", "probability of real"), "discriminator_outputs.png"),
    }
    if (curves / "fid.tsv").is_file() and quick_fid:
        title = "Quick FID during training (evaluator features, training split)"
        figures["fid"] = save(line_chart({"fid": read_tsv(curves / "fid.tsv")}, title, "epoch", "FID", log_y=True), "fid.png")
    with open(paths.CLASS_HISTOGRAM, newline="", encoding="utf-8") as handle:
        histogram = list(csv.DictReader(handle))
    if histogram:
        figures["classes"] = save(class_histogram_chart(histogram), "classes.png")
    copies = {
        "grid": paths.SAMPLE_GRID,
        "panel": paths.STYLIZED_PANEL,
        "interpolation": paths.SAMPLE_INTERPOLATION.with_suffix(".gif"),  # sample.interpolation_rows > 0
        "class_morph": paths.SAMPLE_CLASS_MORPH.with_suffix(".gif"),  # a conditional generator only
    }
    for name, source in copies.items():
        if name in ("grid", "panel") or source.is_file():
            write_atomic(folder / source.name, lambda temporary, source=source: shutil.copyfile(source, temporary))
            figures[name] = f"{folder.name}/{source.name}"
        else:
            (folder / source.name).unlink(missing_ok=True)  # a previous run's
    return figures
