"""benchmarks/study_without_dvc.py: dvc.yaml's stages rerun, as DVC reruns them, only when their params or inputs change."""

import importlib.util
import sys
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]
spec = importlib.util.spec_from_file_location("study_without_dvc", REPO / "benchmarks" / "study_without_dvc.py")
runner = importlib.util.module_from_spec(spec)
spec.loader.exec_module(runner)


def write_pipeline(workdir: Path) -> None:
    """prepare writes data/parity.txt (whether data.n is even: two values of n give the same bytes); evaluate appends a
    line to log.txt each time it runs; a stage after evaluate must never run."""
    python = sys.executable
    stages = {
        "prepare": {
            "cmd": f"{python} -c \"import yaml, pathlib; n = yaml.safe_load(open('params.yaml'))['data']['n']; "
            f"pathlib.Path('data').mkdir(exist_ok=True); pathlib.Path('data/parity.txt').write_text(str(n % 2))\"",
            "params": ["data"],
            "outs": ["data/parity.txt"],
        },
        "evaluate": {
            "cmd": f"{python} -c \"open('log.txt', 'a').write(open('data/parity.txt').read() + '\\n')\"",
            "deps": ["data/parity.txt"],
            "params": ["evaluate.k"],
            "metrics": [{"log.txt": {"cache": False}}],
        },
        "stylize": {"cmd": f"{python} -c \"open('stylized.txt', 'w')\"", "deps": ["log.txt"]},
    }
    (workdir / "dvc.yaml").write_text(yaml.safe_dump({"stages": stages}, sort_keys=False), encoding="utf-8")


def test_a_stage_reruns_only_when_its_params_or_the_bytes_it_reads_change(tmp_path):
    write_pipeline(tmp_path)
    pipeline = runner.Pipeline(tmp_path)
    assert list(pipeline.stages) == ["prepare", "evaluate"]  # nothing after the comparison's last stage
    assert set(pipeline.run({"data": {"n": 2}, "evaluate": {"k": 1, "other": 0}})) == {"prepare", "evaluate"}
    assert pipeline.run({"data": {"n": 2}, "evaluate": {"k": 1, "other": 5}}) == {}  # a key evaluate does not read
    assert set(pipeline.run({"data": {"n": 2}, "evaluate": {"k": 2, "other": 5}})) == {"evaluate"}
    assert set(pipeline.run({"data": {"n": 4}, "evaluate": {"k": 2, "other": 5}})) == {"prepare"}  # same parity: same bytes
    assert set(pipeline.run({"data": {"n": 3}, "evaluate": {"k": 2, "other": 5}})) == {"prepare", "evaluate"}
    assert (tmp_path / "log.txt").read_text().split() == ["0", "0", "1"]
    assert not (tmp_path / "stylized.txt").exists()
    assert yaml.safe_load((tmp_path / "params.yaml").read_text()) == {"data": {"n": 3}, "evaluate": {"k": 2, "other": 5}}
