"""Stage report: metrics, curves, samples and the stylized panel -> reports/report.md and reports/figures/."""

from ganyard import paths
from ganyard.io import write_text
from ganyard.params import Params
from ganyard.report import build_markdown, changed_params, read_json, write_figures
from ganyard.stage import run_stage


def main(params) -> None:
    figures = write_figures(paths.FIGURES, quick_fid=bool(params.train.eval_every))
    markdown = build_markdown(
        read_json(paths.DATA_METRICS),
        read_json(paths.EVALUATOR_METRICS),
        read_json(paths.TRAIN_SUMMARY),
        read_json(paths.EVAL_METRICS),
        read_json(paths.STYLE_METRICS),
        changed_params(params.model_dump(), Params().model_dump()),
        figures,
        params.sample.checkpoint,
    )
    write_text(markdown, paths.REPORT)
    print(f"wrote {paths.REPORT} with {len(figures)} figures in {paths.FIGURES}/")


if __name__ == "__main__":
    run_stage("report", main)
