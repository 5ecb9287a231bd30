"""studies/run.py: every run of every study is a valid set of params, named as compare groups it."""

import importlib.util
import json
import os
import re
import subprocess
from pathlib import Path

import pytest
import torch
import yaml

from ganyard.compare import name_stem
from ganyard.images import GRID_GAP
from ganyard.params import validate_params
from ganyard.profiles import override_value

REPO = Path(__file__).resolve().parents[1]
spec = importlib.util.spec_from_file_location("studies_run", REPO / "studies" / "run.py")
studies = importlib.util.module_from_spec(spec)
spec.loader.exec_module(studies)


def with_overrides(base: dict, overrides: dict) -> dict:
    """params.yaml's mapping with dotted ``overrides`` applied, as `dvc exp run -S` applies them."""
    raw = yaml.safe_load(yaml.safe_dump(base))
    for key, value in overrides.items():
        *sections, leaf = key.split(".")
        node = raw
        for section in sections:
            node = node[section]
        assert leaf in node, f"{key} is not a key of params.yaml"
        node[leaf] = yaml.safe_load(override_value(value))  # the value as `-S` spells it
    return raw


@pytest.mark.parametrize("study", sorted(studies.STUDIES))
def test_every_run_of_a_study_is_valid_params_and_named_per_seed(study):
    base = yaml.safe_load((REPO / "params.yaml").read_text())
    commands = studies.queue_commands(study)
    spec = studies.STUDIES[study]
    assert len(commands) == len(spec["runs"]) * len(spec["seeds"])
    for command in commands:
        name = command[command.index("-n") + 1]
        overrides = dict(part.split("=", 1) for part in command[command.index("-n") + 3 :: 2])
        params = validate_params(with_overrides(base, {key: yaml.safe_load(value) for key, value in overrides.items()}))
        assert name == f"{name_stem(name)}-seed{params.seed}"  # compare groups the seeds of one configuration by this stem
        assert name_stem(name).removeprefix(f"{study}-") in spec["runs"]
    assert f"{study}-{spec['baseline']}" in {name_stem(command[command.index("-n") + 1]) for command in commands}


def test_recipes_pin_every_key_any_recipe_changes():
    # so that a recipe means the same whatever params.yaml says today
    changed = {key for changes, _ in studies.RECIPES.values() for key in changes}
    assert changed <= set(studies.OLD_DEFAULT)


def test_the_committed_default_is_the_confirmed_recipe():
    base = yaml.safe_load((REPO / "params.yaml").read_text())
    default = validate_params(base)
    recipe = validate_params(with_overrides(base, studies.recipe_params("final-ema995-r1-lr8e-4-reuse")))
    assert recipe.train == default.train and recipe.model == default.model and recipe.sample == default.sample


def test_the_seed_study_queues_only_the_seeds_asked_for_and_its_band_keeps_earlier_runs_without_refs(tmp_path, monkeypatch):
    assert [studies.experiment_name(command) for command in studies.queue_commands("seeds", [3, 9])] == ["seeds-default-seed3", "seeds-default-seed9"]
    recorded = {
        "runs": [{"name": f"conditional-default-seed{seed}", "seed": seed, "commit": "3fcafca", "torch_cpu_capability": "AVX512"} for seed in (2, 0)],
        "metrics": {"metrics/eval.json: fid": {"values": [0.92, 0.86]}},
    }
    runs = studies.band_runs({}, recorded)  # no experiment here: the recorded seeds, in the study's order of seeds
    assert [(run["seed"], run["values"]) for run in runs] == [(0, {"metrics/eval.json: fid": 0.86}), (2, {"metrics/eval.json: fid": 0.92})]
    band = tmp_path / "seed_band.json"
    band.write_text(json.dumps(recorded))
    monkeypatch.setitem(studies.BAND, "path", band)
    monkeypatch.setattr(studies, "experiment_refs", dict)
    with pytest.raises(SystemExit, match="2 seeds of the default \\(seeds 0, 2\\); make verify needs 5"):
        studies.write_band()


def test_a_study_does_not_queue_again_what_finished(monkeypatch, capsys):
    queued = []
    monkeypatch.setattr(studies, "finished_experiments", lambda: {"seeds-default-seed3"})
    monkeypatch.setattr(studies.subprocess, "run", lambda command, **_: queued.append(command) or subprocess.CompletedProcess(command, 0))
    monkeypatch.setattr(studies, "wait_for_queue", lambda: None)
    monkeypatch.setattr(studies, "plot_curves", lambda study: "curves.png")
    studies.run_study("seeds", dry=False, seeds=[3, 4])
    assert "seeds-default-seed3: finished already" in capsys.readouterr().out
    assert [command[:6] for command in queued[:1]] == [["dvc", "exp", "run", "--queue", "-n", "seeds-default-seed4"]]
    assert queued[1] == ["dvc", "queue", "start", "-j", "2"]


def test_the_wall_clock_of_each_epoch_is_read_from_a_queue_tasks_output():
    log = (
        "Reproducing experiment 'architectures32-msg-seed1'\nRunning stage 'train':\n"
        "train:   0%|          | 0/186 [00:00<?, ?it/s]\rtrain:   1%|          | 2/186 [00:01<01:40,  1.83it/s]"
        "\rtrain:  34%|###       | 62/186 [00:09<00:19,  6.3it/s, d_loss=0.974, epoch=1, g_loss=2.655]"
        "\rtrain:  35%|###       | 64/186 [00:11<00:19,  6.3it/s, d_loss=0.974, epoch=1, g_loss=2.655]"
        "\rtrain:  67%|######    | 124/186 [1:00:21<00:09,  6.3it/s, d_loss=1.1, epoch=2, g_loss=1.2]"
        "\rtrain: 100%|##########| 186/186 [1:00:30<00:00,  6.3it/s, d_loss=1.2, epoch=3, g_loss=1.0]\n"
        "trained epochs 1 to 3 in 3631.4 s\n"
    )
    run = studies.train_seconds_from_log(log)
    assert run == {"name": "architectures32-msg-seed1", "train_seconds": 3631.4, "epoch_seconds": [(1, 9), (2, 3621), (3, 3631)]}
    assert studies.train_seconds_from_log(log.replace("trained epochs 1 to 3 in 3631.4 s", "Stage 'train' didn't change, skipping")) is None


def test_a_studys_beside_configuration_comes_from_the_other_studys_runs_and_seconds(monkeypatch, tmp_path):
    own = {"recipe": [("stylegan2-recipe-seed0", [(2, 90.0)])]}
    other = {"dcgan": [("architectures32-dcgan-seed1", [(2, 30.0)])], "msg": [("architectures32-msg-seed1", [(2, 40.0)])]}
    monkeypatch.setattr(studies, "quick_fid_curves", lambda study: {"stylegan2": own, "architectures32": other}[study].copy())
    assert studies.study_curves("stylegan2") == {**own, "architectures32-dcgan": other["dcgan"]}  # msg is not beside it
    monkeypatch.chdir(tmp_path)
    (tmp_path / "studies").mkdir()
    (tmp_path / "studies/seconds-stylegan2.json").write_text(json.dumps({"stylegan2-recipe-seed0": {"train_seconds": 1190}}))
    (tmp_path / "studies/seconds-architectures32.json").write_text(json.dumps({"architectures32-dcgan-seed1": {"train_seconds": 822}}))
    assert studies.measured_seconds("stylegan2") == {"stylegan2-recipe-seed0": {"train_seconds": 1190}, "architectures32-dcgan-seed1": {"train_seconds": 822}}
    assert studies.measured_seconds("architectures32") == {"architectures32-dcgan-seed1": {"train_seconds": 822}}  # a study without one: its own


def test_a_studys_curves_draw_its_beside_configuration_on_its_measured_clock(monkeypatch, tmp_path, capsys):
    own = {"recipe": [("stylegan2-recipe-seed0", [(2, 90.0), (4, 60.0)])]}
    other = {"dcgan": [("architectures32-dcgan-seed1", [(2, 30.0), (4, 10.0)])]}
    monkeypatch.setattr(studies, "quick_fid_curves", lambda study: {"stylegan2": own, "architectures32": other}[study].copy())
    monkeypatch.chdir(tmp_path)
    (tmp_path / "studies").mkdir()
    clock = {"train_seconds": 30, "epoch_seconds": [[2, 15], [4, 30]]}
    (tmp_path / "studies/seconds-stylegan2.json").write_text(json.dumps({"stylegan2-recipe-seed0": clock}))
    (tmp_path / "studies/seconds-architectures32.json").write_text(json.dumps({"architectures32-dcgan-seed1": clock}))
    path = studies.plot_curves("stylegan2")
    assert path.is_file() and "left out" not in capsys.readouterr().out  # both configurations drawn, each on its clock
    monkeypatch.setattr(studies, "quick_fid_curves", lambda study: {"stylegan2": own, "architectures32": {}}[study].copy())
    assert list(studies.study_curves("stylegan2")) == ["recipe"]  # no dcgan runs here: drawn without them, and said so
    assert "no finished experiments here" in capsys.readouterr().out


def test_the_64_px_studies_draw_their_measured_clock_though_two_run_at_a_time(monkeypatch, tmp_path, capsys):
    assert "two runs at a time" in studies.measured_clock(studies.STUDIES["emoji"]) == studies.measured_clock(studies.STUDIES["architectures"])
    assert "one run at a time" in studies.measured_clock(studies.STUDIES["stacked"])
    assert studies.measured_clock(studies.STUDIES["modes"]) is None  # drawn over its budget spread evenly over the epochs
    curves = {"dcgan": [(f"emoji-dcgan-seed{seed}", [(4, 90.0), (8, 60.0)]) for seed in (0, 1)]}
    monkeypatch.setattr(studies, "quick_fid_curves", lambda study: curves.copy())
    monkeypatch.chdir(tmp_path)
    (tmp_path / "studies").mkdir()
    assert studies.plot_curves("emoji").is_file() and "left out" not in capsys.readouterr().out  # no clocks recorded: over the budget
    clock = {"train_seconds": 30, "epoch_seconds": [[4, 15], [8, 30]]}
    (tmp_path / "studies/seconds-emoji.json").write_text(json.dumps({"emoji-dcgan-seed0": clock}))
    studies.plot_curves("emoji")
    # a measured clock is used: the run without one (DVC's run cache answered it) borrows its other seeds'
    assert capsys.readouterr().out == "emoji-dcgan-seed1: no wall clock recorded (a cached run); drawn at the mean clock of its other seeds, dashed\n"


def test_no_studys_experiment_names_start_with_another_studys_prefix():
    # a study finds its runs by the prefix "<study>-": "modes-small-d-default-seed0" would be read as a run of "modes"
    for study in studies.STUDIES:
        for other in studies.STUDIES:
            assert study == other or not other.startswith(f"{study}-"), f"{other}'s runs would be counted as {study}'s"


def test_the_mode_study_changes_one_thing_over_the_stacked_profile_and_the_narrow_setting_only_the_discriminator():
    base = yaml.safe_load((REPO / "params.yaml").read_text())
    default = validate_params(with_overrides(base, studies.run_params("modes", "default")))
    assert default.data.source == "stacked_mnist" and default.sample.checkpoint == "last"
    for name, (changes, epochs, narrow_epochs) in studies.MODE_CURES.items():
        wide = validate_params(with_overrides(base, studies.run_params("modes", name)))
        assert wide == validate_params(with_overrides(base, {**studies.run_params("modes", "default"), **changes, "train.epochs": epochs}))
        if narrow_epochs is None:
            assert name not in studies.STUDIES["modesnarrow"]["runs"]
            continue
        narrow = validate_params(with_overrides(base, studies.run_params("modesnarrow", name)))
        assert wide.train.epochs == epochs and narrow.train.epochs == narrow_epochs
        assert narrow.model.discriminator_width == default.model.discriminator_width // 4
        assert narrow.model.model_copy(update={"discriminator_width": wide.model.discriminator_width}) == wide.model
        assert narrow.train.model_copy(update={"epochs": epochs}) == wide.train


def test_the_targets_table_counts_modes_beside_the_real_floor_on_stacked_mnist(monkeypatch, tmp_path):
    scores = {"fid": 21.2, "fid_real": 0.67, "modes": 998, "modes_real": 1000, "mode_kl": 0.0777, "mode_kl_real": 0.0199}
    scores.update(is_mean=336.0, precision=0.4, recall=0.9)
    monkeypatch.setattr(studies, "experiment_refs", lambda: {"stacked-default-seed0": "refs/exps/ab/cd/stacked-default-seed0"})
    monkeypatch.setattr(studies, "study_curves", lambda study: {"default": [("stacked-default-seed0", [(14, 28.3), (15, 25.4)])]})
    monkeypatch.setattr(studies, "measured_seconds", lambda study: {"stacked-default-seed0": {"train_seconds": 344, "epoch_seconds": [[14, 320], [15, 344]]}})
    shown = subprocess.CompletedProcess([], 0, stdout=json.dumps(scores))
    monkeypatch.setattr(studies.subprocess, "run", lambda command, **kwargs: shown)  # `git show <ref>:metrics/eval.json`
    monkeypatch.chdir(tmp_path)
    (tmp_path / "reports").mkdir()
    header, rule, row = studies.targets_table("stacked").read_text().splitlines()
    assert "modes (real) | mode KL (real)" in header and rule.count("---") == header.count("|") - 1
    assert row == "| stacked-default-seed0 | 344 | 25.4 (15) | 21.20 (0.67) | 998 (1000) | 0.078 (0.020) | 336.00 | 0.400 | 0.900 |"


def test_the_cost_of_a_studys_configurations_is_timed_per_iteration_and_turned_into_epochs_of_its_budget(monkeypatch, capsys):
    monkeypatch.setitem(
        studies.STUDIES,
        "tiny",
        {
            "runs": {
                "small": {"data.source": "stacked_mnist", "model.generator_width": 8, "model.discriminator_width": 8, "train.epochs": 1, "sample.count": 26000}
            },
            "budget_seconds": 40,
        },
    )
    threads = torch.get_num_threads()
    studies.study_cost("tiny", rounds=1)
    assert torch.get_num_threads() == threads  # set to one for the timing only
    line = capsys.readouterr().out.splitlines()[-1]
    match = re.fullmatch(r" +small: ([0-9.]+) s per iteration, ([0-9]+) s per epoch -> ([0-9.]+) epochs in the budget \(the study has 1\)", line)
    assert match, line
    per_iteration, per_epoch, epochs = (float(group) for group in match.groups())
    assert abs(per_epoch - per_iteration * 400) <= 0.5 + 0.0005 * 400  # 25,600 stacked images in batches of 64; both printed rounded
    assert epochs == pytest.approx(40 / (per_iteration * 400), rel=0.1)


def test_the_emoji_study_is_the_64_px_digit_study_on_the_emoji_folder_at_the_same_iterations():
    base = yaml.safe_load((REPO / "params.yaml").read_text())
    emoji_training_images = round(1434 * (1 - validate_params(base).data.test_fraction))  # what `python -m ganyard.data.emoji` writes
    for name in studies.STUDIES["architectures"]["runs"]:
        digits = validate_params(with_overrides(base, studies.run_params("architectures", name)))
        emoji = validate_params(with_overrides(base, studies.run_params("emoji", name)))
        assert emoji.data.source == "folder" and Path(emoji.data.path).is_absolute() and Path(emoji.data.path).parts[-2:] == ("data", "emoji")
        same = {"epochs": digits.train.epochs, "eval_every": digits.train.eval_every}
        assert emoji.train.model_copy(update=same) == digits.train and emoji.model == digits.model and emoji.sample == digits.sample
        # rotations need more updates on the emoji, and the channels' order makes the features see colour
        assert emoji.evaluator == digits.evaluator.model_copy(update={"epochs": studies.EMOJI_EVALUATOR_EPOCHS, "unlabelled_task": "rotation_colour"})
        iterations = emoji.train.epochs * emoji_training_images / emoji.train.batch_size
        assert iterations == pytest.approx(digits.train.epochs * 4000 / digits.train.batch_size, rel=0.01)


def test_the_128_px_emoji_pictures_are_the_emoji_studys_runs_at_128_px_trained_and_sampled_without_evaluation():
    base = yaml.safe_load((REPO / "params.yaml").read_text())
    for name in studies.STUDIES["emoji128"]["runs"]:
        at64 = validate_params(with_overrides(base, studies.run_params("emoji", name)))
        at128 = validate_params(with_overrides(base, studies.run_params("emoji128", name)))
        assert at128.data == at64.data.model_copy(update={"image_size": 128})
        assert at128.model == at64.model and at128.sample == at64.sample and at128.sample.checkpoint == "last"
        assert at128.train == at64.train.model_copy(update={"eval_every": 0})  # the same iterations, no quick FID
    commands = studies.queue_commands("emoji128")
    assert {command[-1] for command in commands} == {"sample"}  # no evaluate: its evaluator would cost more than the runs


def test_a_study_run_to_the_sample_stage_draws_its_grids_and_compares_nothing(monkeypatch, capsys):
    ran = []
    monkeypatch.setattr(studies, "experiment_refs", lambda: {"emoji128-dcgan-seed0": "ref"})
    monkeypatch.setattr(studies.subprocess, "run", lambda command, **_: ran.append(command) or subprocess.CompletedProcess(command, 0))
    monkeypatch.setattr(studies, "missing_folders", lambda study: [])  # a clean checkout has no data/emoji
    monkeypatch.setattr(studies, "wait_for_queue", lambda: None)
    monkeypatch.setattr(studies, "record_train_seconds", lambda study: Path(f"studies/seconds-{study}.json"))
    monkeypatch.setattr(studies, "plot_curves", lambda study: pytest.fail("drew quick-FID curves of runs without a quick FID"))
    monkeypatch.setattr(studies, "plot_grids", lambda study: Path(f"reports/study-{study}-grids.png"))
    assert studies.run_study("emoji128", dry=False) == 0
    assert "emoji128-dcgan-seed0: finished already" in capsys.readouterr().out
    assert [command[5] for command in ran[:-1]] == [f"emoji128-{name}-seed0" for name in ("msg", "progressive", "stylegan2")]
    assert ran[-1] == ["dvc", "queue", "start", "-j", "2"]  # and no `python -m ganyard.compare` after it


def test_an_experiment_run_to_the_sample_stage_is_not_taken_as_evaluated(monkeypatch):
    # such an experiment's commit keeps the eval.json (and the evaluate entry) of the commit it started from
    def lock(samples_written: str, samples_read: str, evaluator_written: str = "e", evaluator_read: str = "e") -> str:
        stages = {
            "train_evaluator": {"outs": [{"path": "models/evaluator.pt", "md5": evaluator_written}]},
            "sample": {"outs": [{"path": "data/samples", "md5": samples_written}]},
            "evaluate": {
                "deps": [
                    {"path": "data/params.ok", "md5": "p"},
                    {"path": "data/samples", "md5": samples_read},
                    {"path": "models/evaluator.pt", "md5": evaluator_read},
                ],
                "outs": [{"path": "metrics/class_histogram.csv", "md5": "h"}],
            },
        }
        return yaml.safe_dump({"stages": stages})

    locks = {
        "evaluated": lock("new.dir", "new.dir"),
        "sampled": lock("new.dir", "baseline.dir"),
        "new-evaluator": lock("same.dir", "same.dir", evaluator_written="new", evaluator_read="baseline"),  # same samples, other evaluator
        "no-evaluate": yaml.safe_dump({"stages": {"sample": {"outs": [{"path": "data/samples", "md5": "s"}]}}}),
    }
    monkeypatch.setattr(studies.subprocess, "run", lambda command, **_: subprocess.CompletedProcess(command, 0, stdout=locks[command[2].split(":")[0]]))
    assert studies.evaluated("evaluated") and not any(studies.evaluated(ref) for ref in ("sampled", "new-evaluator", "no-evaluate"))


def test_a_studys_grid_samples_are_drawn_at_their_own_pixels(monkeypatch, tmp_path):
    from PIL import Image

    torch.save({"images": torch.rand(20, 3, 16, 16) * 2 - 1}, tmp_path / "samples.pt")
    monkeypatch.setitem(studies.STUDIES, "pictures", {"runs": {"a": {}, "b": {}}, "seeds": [0], "baseline": "a", "stage": "sample", "grid_samples": 4})
    monkeypatch.setattr(studies, "experiment_refs", lambda: {"pictures-a-seed0": "ref-a", "pictures-b-seed0": "ref-b"})
    monkeypatch.setattr(
        studies, "cached_output", lambda ref, path: tmp_path / "samples.pt" if path == studies.paths.SAMPLE_IMAGES else pytest.fail(f"read {path}")
    )
    monkeypatch.chdir(tmp_path)
    (tmp_path / "reports").mkdir()
    width, height = Image.open(studies.plot_grids("pictures")).size
    side = 2 * (16 + GRID_GAP) + GRID_GAP  # 2 x 2 samples of 16 px and their gaps
    assert width == 2 * side and height > side  # one figure pixel for each of theirs, side by side, titles above


def test_a_study_on_a_missing_folder_says_how_to_make_it_and_queues_nothing(monkeypatch, capsys, tmp_path):
    monkeypatch.setattr(studies, "EMOJI", tmp_path / "data" / "emoji")
    monkeypatch.setitem(studies.STUDIES, "emoji", {**studies.STUDIES["emoji"], "runs": {"dcgan": studies.emoji_run("dcgan", 28)}})
    monkeypatch.setattr(studies.subprocess, "run", lambda command, **_: pytest.fail(f"ran {command}"))
    assert studies.run_study("emoji", dry=False) == 2
    assert f"data.path {tmp_path / 'data' / 'emoji'} does not exist: python -m ganyard.data.emoji --out data/emoji" in capsys.readouterr().err


def test_the_newest_queue_task_of_a_name_gives_its_wall_clock(monkeypatch, tmp_path):
    def task_log(task: str, seconds: float, mtime: float) -> None:
        log = tmp_path / "logs" / task / f"{task}.out"
        log.parent.mkdir(parents=True)
        log.write_text(
            "Reproducing experiment 'stacked-default-seed0'\nRunning stage 'train':\n"
            f"train: 100%|##########| 400/400 [00:{int(seconds):02d}<00:00, d_loss=1.2, epoch=1, g_loss=1.0]\ntrained epochs 1 to 1 in {seconds} s\n"
        )
        os.utime(log, (mtime, mtime))

    task_log("aaaa", 12.0, mtime=2_000_000_000)  # the newer run sorts first by task id
    task_log("ffff", 34.0, mtime=1_000_000_000)
    monkeypatch.setattr(studies, "QUEUE_LOGS", tmp_path / "logs")
    monkeypatch.chdir(tmp_path)
    (tmp_path / "studies").mkdir()
    recorded = json.loads(studies.record_train_seconds("stacked").read_text())
    assert recorded["stacked-default-seed0"]["train_seconds"] == 12.0


def test_runs_queues_only_the_configurations_asked_for_and_names_the_unknown(monkeypatch, capsys):
    commands = studies.queue_commands("modes", seeds=[2], runs=["replay", "pack2"])
    assert [command[command.index("-n") + 1] for command in commands] == ["modes-replay-seed2", "modes-pack2-seed2"]  # the study's order
    monkeypatch.setattr(studies.subprocess, "run", lambda command, **_: pytest.fail(f"ran {command}"))
    assert studies.run_study("modes", dry=False, runs=["replay", "packing"]) == 2
    assert "--runs packing: not configurations of it (algorithm1, default," in capsys.readouterr().err
