"""The recipe study behind the default training params: which regularization and budget train the
DCGAN to near-real quality on 2 CPU cores, at the same wall-clock budget for every recipe.

    python studies/run.py calibrate               # seconds per epoch of every recipe on this machine
    python studies/run.py screen                  # one seed of every recipe
    python studies/run.py confirm                 # seeds 0, 1, 2 of the finalists and of the old default
    python studies/run.py norms                   # the comparisons of docs/experiments.md over params.yaml: also
                                                  # conditional, small (augmentation on 500 images), ratio (k:1)
    python studies/run.py STUDY --dry             # print the `dvc exp run` commands, run nothing
    python studies/run.py architectures          # dcgan, msg, progressive and stylegan2 at 64 px, 3 seeds, 5 minutes each
    python studies/run.py emoji                  # the same four on the emoji folder at 64 px (python -m ganyard.data.emoji first)
    python studies/run.py emoji128               # seed 0 of the same four at 128 px, trained and sampled: pictures, no scores
    python studies/run.py architectures32        # dcgan, msg and progressive at 32 px on the default data, 3 seeds, 10 minutes each
    python studies/run.py tenminutes             # msg and progressive cut to end within 10 minutes of training, 3 seeds
    python studies/run.py seeds                   # the default at seeds 0-9 (--seeds 3 4 ...: only those)
    python studies/run.py band                    # every metric of the default's seeds: studies/seed_band.json,
                                                  # whose prediction intervals `make verify` checks on other kernels

Each study queues its experiments with `dvc exp run --queue` (named ``<study>-<recipe>-seed<N>``, up to
the evaluate stage, or the study's "stage": style transfer and the report are not part of the comparison), runs them two at a
time with one thread each (``OMP_NUM_THREADS=1 dvc queue start -j 2``, what suits 2 cores; a study timed
on the wall clock, one at a time with 2 threads), waits,
and compares them with ``python -m ganyard.compare``, writing ``reports/study-<study>.{md,csv,png}`` (a study that stops before
evaluate only draws its clocks and grids).
Experiments already finished under the same name are not queued again, so an interrupted study
picks up where it stopped. The same params as an earlier run (of any name) come back from DVC's run
cache without training.

The budget: every recipe gets the epochs that take ``BUDGET_SECONDS`` of training on the development
machine (2 cores of an AVX-512 x86_64, 2 threads), measured by ``calibrate`` and written down in
``RECIPES``, so the study asks the same experiments on any machine. A recipe that costs more per
iteration (wider networks, R1, minibatch stddev) gets fewer epochs: the question is what is best for
the same wait, not for the same number of steps.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import time
from pathlib import Path

import yaml

from ganyard import paths
from ganyard.compare import METRICS_FILE as EVAL_FILE
from ganyard.compare import name_stem
from ganyard.io import write_text
from ganyard.profiles import flatten, load_profile, override_value
from ganyard.verify import MIN_SEEDS, SEED_BAND, prediction_intervals, seed_study

BUDGET_SECONDS = 420  # of training, so that the whole `dvc repro` of the default stays within 10 minutes on 2 cores

# The recipes are written against the default before the study (commit 383ecb4): every key that some
# recipe changes is pinned to its old value in all of them, so each recipe means the same whatever
# params.yaml says today. The old default sampled its last generator (there was no best one yet).
OLD_DEFAULT = {
    "train.epochs": 40, "train.ema": None, "train.loss": "non_saturating", "train.lr_discriminator": None, "train.lr_generator": None,
    "train.beta1": 0.5, "train.beta2": 0.999, "train.augment": "none", "train.generator_noise": "fresh", "train.r1_gamma": 0.0,
    "train.label_smoothing": 0.0, "model.spectral_norm": "none", "model.discriminator_norm": "batch", "model.generator_width": 32,
    "model.discriminator_width": 32, "model.minibatch_stddev": False, "sample.checkpoint": "last", "train.lr": 2e-4,
    "train.batch_size": 64, "train.generator_steps": 1,
}  # fmt: skip
BEST = {"sample.checkpoint": "best"}
EMA = {**BEST, "train.ema": 0.999}
EMA995 = {**BEST, "train.ema": 0.995}
R1_LR8E4_REUSE = {**EMA995, "train.r1_gamma": 1.0, "train.lr": 8e-4, "train.generator_noise": "reuse"}  # round 5's best, the default
LR16E4_REUSE = {**EMA995, "train.lr": 1.6e-3, "train.generator_noise": "reuse"}  # its runner-up
# name: (what the recipe changes from OLD_DEFAULT, epochs that take BUDGET_SECONDS of training on the development machine)
RECIPES: dict[str, tuple[dict, int]] = {
    "old-default": ({}, 40),  # the default before the study, at its own short budget
    "longer": (BEST, 125),
    "ema": (EMA, 125),
    "ema-ttur": ({**EMA, "train.lr_discriminator": 4e-4, "train.lr_generator": 1e-4}, 125),
    "ema-hinge-sn": (
        {
            **EMA,
            "train.loss": "hinge",
            "model.spectral_norm": "discriminator",
            "model.discriminator_norm": "none",
            "train.beta1": 0.0,
            "train.beta2": 0.9,
            "train.lr_discriminator": 4e-4,
            "train.lr_generator": 1e-4,
        },
        107,
    ),
    "ema-diffaugment": ({**EMA, "train.augment": "diffaugment"}, 107),
    "ema-reuse": ({**EMA, "train.generator_noise": "reuse"}, 135),
    "ema-wide": ({**EMA, "model.generator_width": 64, "model.discriminator_width": 64}, 38),
    "ema-r1": ({**EMA, "train.r1_gamma": 1.0}, 80),
    "ema-mbstd": ({**EMA, "model.minibatch_stddev": True}, 79),
    "ema-smoothing": ({**EMA, "train.label_smoothing": 0.1}, 125),
    # Round 2: the moving average of round 1 (decay 0.999, a time constant of 1,000 iterations, an eighth of the
    # run) held the early weights for 30 epochs; 0.995 is StyleGAN2-ADA's 10 kimg half-life at batch 64.
    "ema995": (EMA995, 125),
    "ema995-lr4e-4": ({**EMA995, "train.lr": 4e-4}, 125),
    "ema995-glr4e-4": ({**EMA995, "train.lr_generator": 4e-4}, 125),
    "ema995-dlr1e-4": ({**EMA995, "train.lr_discriminator": 1e-4}, 125),
    "ema995-reuse": ({**EMA995, "train.generator_noise": "reuse"}, 135),
    "ema995-wide": ({**EMA995, "model.generator_width": 64, "model.discriminator_width": 64}, 42),
    "ema995-r1": ({**EMA995, "train.r1_gamma": 1.0}, 90),
    "ema995-mbstd": ({**EMA995, "model.minibatch_stddev": True}, 85),
    "ema995-smoothing": ({**EMA995, "train.label_smoothing": 0.1}, 125),
    "ema995-batch128": ({**EMA995, "train.batch_size": 128, "train.lr": 4e-4}, 145),
    "ema995-gsteps2": ({**EMA995, "train.generator_steps": 2}, 94),
    # Round 3: round 2's two winners, a higher learning rate and the generator update on the discriminator's G(z), together
    "ema995-lr4e-4-reuse": ({**EMA995, "train.lr": 4e-4, "train.generator_noise": "reuse"}, 135),
    "ema995-lr8e-4-reuse": ({**EMA995, "train.lr": 8e-4, "train.generator_noise": "reuse"}, 135),
    "ema995-glr8e-4-dlr4e-4-reuse": ({**EMA995, "train.lr_generator": 8e-4, "train.lr_discriminator": 4e-4, "train.generator_noise": "reuse"}, 135),
    # Round 4: R1 (round 2's best) with round 2's and 3's levers, and at other strengths
    "ema995-r1-reuse": ({**EMA995, "train.r1_gamma": 1.0, "train.generator_noise": "reuse"}, 98),
    "ema995-r1-lr4e-4": ({**EMA995, "train.r1_gamma": 1.0, "train.lr": 4e-4}, 90),
    "ema995-r1-lr4e-4-reuse": ({**EMA995, "train.r1_gamma": 1.0, "train.lr": 4e-4, "train.generator_noise": "reuse"}, 98),
    "ema995-r0.1": ({**EMA995, "train.r1_gamma": 0.1}, 90),
    "ema995-r10": ({**EMA995, "train.r1_gamma": 10.0}, 90),
    # Round 5: round 3's learning rate 8e-4 with R1, and twice that (the last three were not run)
    "ema995-r1-lr8e-4-reuse": (R1_LR8E4_REUSE, 98),
    "ema995-lr1.6e-3-reuse": (LR16E4_REUSE, 135),
    "ema995-r1-lr1.6e-3-reuse": ({**EMA995, "train.r1_gamma": 1.0, "train.lr": 1.6e-3, "train.generator_noise": "reuse"}, 98),
    "ema998-lr8e-4-reuse": ({**BEST, "train.ema": 0.998, "train.lr": 8e-4, "train.generator_noise": "reuse"}, 135),
    # Confirmation: round 5's two at 92% of their epochs, because round 5's best at 98 epochs made the whole
    # `dvc repro` take 10 min 1 s on the development machine; the first is the committed default
    "final-ema995-r1-lr8e-4-reuse": (R1_LR8E4_REUSE, 90),
    "final-ema995-lr1.6e-3-reuse": (LR16E4_REUSE, 124),
}
# The 64-px comparison of the architectures (docs/architectures.md, "The four at 64 px"): each with its profile at data.image_size 64,
# for the epochs that take ARCHITECTURE_BUDGET_SECONDS of training at the seconds per iteration that
# `benchmarks/architecture_cost.py --image-size 64` measured on 2 AVX2 cores (63 iterations per epoch):
# dcgan 300 / (0.632 * 63) = 7.5 -> 8, msg 300 / (0.797 * 63) = 6.0, stylegan2 300 / (0.734 * 63) = 6.5 -> 6. Progressive
# grows through 4-64 px in phases of 1,600 images (25 iterations; its profile's 6,400 would leave no time at 64 px),
# at about 0.05-0.9 s per iteration by stage: about 95 s to reach 64 px, then 0.9 s per iteration -> 6 epochs.
ARCHITECTURE_BUDGET_SECONDS = 300
PROFILES = Path(__file__).resolve().parent.parent / "profiles"


def architecture_run(architecture: str, epochs: int, **extra) -> dict:
    """Dotted params of one architecture in the 64-px study: its profile (none for dcgan), 64 px, ``epochs``."""
    profile = flatten(load_profile(PROFILES / f"{architecture}.yaml")) if architecture != "dcgan" else {}
    # The last generator, not the best by quick FID: the question is what 300 s of training give. (With the default
    # evaluator `best` kept epoch 1's nearly black images of dcgan and msg; with the robust one below the best epoch is
    # the last, except for the collapsing stylegan2's epoch 1.)
    # The evaluator with brightness augmentation: without it, the grey background DCGAN draws at 64 px made it read
    # every sample as one class (docs/scores.md#the-evaluators-blind-spot-a-grey-background), whatever the digits.
    return {
        **profile, "data.image_size": 64, "train.epochs": epochs, "train.eval_every": 1, "sample.checkpoint": "last", "evaluator.brightness": 0.3,
        **extra,
    }  # fmt: skip


# Issue 35's question on pictures with colour and detail: the four architectures on the emoji folder at 64 px
# (docs/data.md#a-high-resolution-example-colour-emoji: `python -m ganyard.data.emoji --out data/emoji --size 128`, 1,434 pictures,
# 1,147 of them for training, 17.9 iterations per epoch), with the same recipes and the same iterations as the digits study
# `architectures` above, so the same budget (300 s of training on 2 AVX2 cores): dcgan 28 epochs (28 x 17 = 476 iterations against 8 x 62
# = 496), msg, progressive and stylegan2 21 (357 against 6 x 62 = 372); progressive grows by images (1,600 a phase), as on the digits. The quick
# FID about every 4 epochs (every epoch of the digits' 6-8), so that it costs about as much. An absolute path: the queue runs each
# experiment in a copy of the repository without its git-ignored data/.
EMOJI = Path(__file__).resolve().parent.parent / "data" / "emoji"
# The evaluator learns its rotation task on the emoji only after about 300 updates (a trial at 32 px; chance, 0.25, before; the digits
# need far fewer): the default 8 epochs of 17 updates left it at chance (test accuracy 0.249, so every score of the first
# emoji runs, at 475f322, was read on untrained features). EMOJI_EVALUATOR_EPOCHS epochs give it about 1,000 updates and
# 0.461. Rotations alone hardly see colour (the emoji with their channels reordered scored FID 0.118 against a floor of 0.161, and
# StyleGAN2's emoji-coloured samples worse than progressive's magenta blobs), so the evaluator also learns the channels' order
# (EMOJI_EVALUATOR_TASK; the table is docs/scores.md's, by studies/emoji_evaluator.py).
EMOJI_EVALUATOR_EPOCHS = 60
EMOJI_EVALUATOR_TASK = "rotation_colour"


def emoji_run(architecture: str, epochs: int, **extra) -> dict:
    """Dotted params of one architecture in the emoji study: the 64-px study's run on the folder ``EMOJI``, with an
    evaluator trained for EMOJI_EVALUATOR_EPOCHS on EMOJI_EVALUATOR_TASK."""
    return {
        **architecture_run(architecture, epochs, **extra), "data.source": "folder", "data.path": str(EMOJI), "train.eval_every": 4 if epochs > 24 else 3,
        "evaluator.epochs": EMOJI_EVALUATOR_EPOCHS, "evaluator.unlabelled_task": EMOJI_EVALUATOR_TASK,
    }  # fmt: skip


# Progressive's growth phases at 64 px in the 5-minute studies: the profile's 6,400 images a phase would leave no time at 64 px.
SHORT_GROWTH = {"train.growth.stable_images": 1600, "train.growth.fade_images": 1600}


def architectures64(make_run, epochs: dict[str, int]) -> dict:
    """A study of the four architectures at 64 px, 3 seeds, ``make_run(architecture, epochs, **extra)`` making each run
    (progressive's with SHORT_GROWTH), for ARCHITECTURE_BUDGET_SECONDS (the curves are drawn over minutes, not epochs),
    with seed 0's sample grid of every configuration (reports/study-<study>-grids.png)."""
    runs = {architecture: make_run(architecture, count, **(SHORT_GROWTH if architecture == "progressive" else {})) for architecture, count in epochs.items()}
    # "clock": each run's wall clock is read from its queue log (record_train_seconds) and the curves drawn over it, though two
    # run at a time: with one thread each on 2 cores they hardly slow each other, and progressive's early epochs at low
    # resolution are far cheaper than its last, which a budget spread evenly over the epochs would hide.
    return {"runs": runs, "seeds": [0, 1, 2], "baseline": "dcgan", "budget_seconds": ARCHITECTURE_BUDGET_SECONDS, "grids": True, "clock": "measured"}


# The emoji study's epochs (the digits study's iterations, above)
EMOJI_EPOCHS = {"dcgan": 28, "msg": 21, "progressive": 21, "stylegan2": 21}
# Issue 35's 128-px picture: seed 0 of each architecture on the emoji at 128 px, for the emoji study's iterations (about 4 times its
# clock on 2 CPU cores). Pictures only, to the sample stage: the rotation_colour evaluator needs about 1,000 updates, at 128 px about
# 40 minutes on its 2 threads (2.3-2.6 s an update, measured in these runs' one epoch), more than the four runs. So the quick FID is off, the evaluator that
# the train stage's dependencies ask for gets one epoch and scores nothing, and `python studies/rescore.py --evaluator-from
# emoji-dcgan-seed0 --shrink ...` scores the samples shrunk to 64 px on the emoji study's evaluator, beside the 64-px runs.
EMOJI128 = {"data.image_size": 128, "train.eval_every": 0, "evaluator.epochs": 1}


# The 32-px comparison of issues 32 and 33 (docs/experiments.md): each architecture with its profile on the default data (mnist5k:
# 4,000 training images, 62.5 iterations per epoch), for about ARCHITECTURE32_BUDGET_SECONDS of training on 2 AVX2 cores, one run at
# a time with 2 threads (the train stage's own wall clock, quick FID included, is what the target is about). Epochs from the seconds
# per iteration `benchmarks/architecture_cost.py --image-size 32` measured at 36a24bf (dcgan 0.092, msg 0.109, progressive at full
# size 0.180) plus about 1 s per epoch for the quick FID: dcgan 600 / (0.092 * 62.5 + 1) = 89, the default's 90; msg
# 600 / (0.109 * 62.5 + 1) = 77, taken as 75; progressive's profile ends its 22 epochs (32 px from epoch 10) after 279 s
# (docs/architectures.md#trial), then 321 / (0.180 * 62.5 + 1) = 26 more: 48, taken as 45. The curves use the measured seconds
# (studies/seconds-<study>.json). The last generator: the question is what 10 minutes give.
ARCHITECTURE32_BUDGET_SECONDS = 600


def architecture32_run(architecture: str, epochs: int) -> dict:
    """Dotted params of one architecture in the 32-px study: its profile (none for dcgan, the default), ``epochs``, the last generator."""
    profile = flatten(load_profile(PROFILES / f"{architecture}.yaml")) if architecture != "dcgan" else {}
    return {**profile, "train.epochs": epochs, "sample.checkpoint": "last"}


# Issue 31's StyleGAN2 result: its profile (R3GAN's objective) for about STYLEGAN2_BUDGET_SECONDS of training, one run at a
# time with 2 threads, beside the 32-px study's dcgan runs (the same default params, the curves and grids of architectures32).
# Epochs: 1200 / (0.148 s per iteration, benchmarks/architecture_cost.py at 6c2e195, * 62.5 + about 3 s per epoch for the
# quick FID, the preview and the checkpoint, as the dcgan runs measured) = 98, taken as the profile's 95.
STYLEGAN2_BUDGET_SECONDS = 1200
# Issues 32 and 33's targets at exactly 10 minutes: the 32-px study's msg and progressive runs trained 12-20 minutes, or shared the machine,
# so their evaluator FID was not measured at 10 minutes. Here each is cut to the epochs that end within ARCHITECTURE32_BUDGET_SECONDS of
# training on 2 free AVX2 cores, from those runs' own clocks: msg 744-778 s for 75 epochs (about 10.2 s per epoch) -> 55 epochs,
# about 560 s; progressive 514 s for 45 epochs on a free machine (seed 2) -> 44 epochs, about 500 s (45 would come back from DVC's run
# cache). Beside the 32-px study's dcgan runs, one run at a time with 2 threads. At 6eea652 the machine was faster than those runs':
# msg took 446-470 s and progressive 442-444 s, and progressive's seed 2 ended at FID 10.13, a target missed with a quarter of the
# 10 minutes unused; progressive54 gets the epochs of about 550 s at 10.1 s per epoch.
# configuration -> (architecture, epochs)
TEN_MINUTES_RUNS = {"msg": ("msg", 55), "progressive": ("progressive", 44), "progressive54": ("progressive", 54)}
# Issue 34's target: the default recipe on Stacked MNIST within 15 minutes of training (profiles/stacked_mnist.yaml: 36 epochs of 400
# iterations, 827 s on 2 free AVX-512 cores at 521375e), one run at a time with 2 threads: 1,000 modes and a KL within twice the
# floor. "epochs15" is the first measurement, at 15 epochs (344-368 s at 8c51f8b).
STACKED_BUDGET_SECONDS = 900
# Issue 34's study of the cures of mode collapse on Stacked MNIST (docs/experiments.md#mode-collapse-on-stacked-mnist): every row is
# profiles/stacked_mnist.yaml with one change, sampled from its last generator, trained for the epochs that take MODES_BUDGET_SECONDS
# at its own cost per iteration (`python studies/run.py modes --cost`, on 1 thread as the queue runs two at a time), in two settings:
# the default networks, and a discriminator of a quarter of the width (8 channels), the literature's harder setting in which a
# plain GAN drops modes. Algorithm 1 is the seed lesson's, with k = 1 and DCGAN's Adam: the minimax loss, fresh noise for the
# generator's update, no moving average, no R1.
MODES_BUDGET_SECONDS = 300
ALGORITHM_1 = {"train.loss": "minimax", "train.generator_noise": "fresh", "train.ema": None, "train.r1_gamma": 0.0, "train.lr": 2e-4}
# configuration -> (what it changes, epochs of MODES_BUDGET_SECONDS with the default networks, with the quarter-width discriminator;
# None: not in that setting).
# Epochs: 300 s / (400 iterations x the seconds per iteration `--cost` measured at 8c51f8b on 1 AVX-512 thread), rounded:
# default networks 0.056 / 0.081 / 0.141 / 0.095 / 0.080 / 0.052 / 0.110 s in this order; quarter-width D 0.037 / 0.040 / 0.107 /
# 0.045 / 0.041 / 0.032 / 0.051 s. The quick FID every 2 epochs (about a second) is not counted.
MODE_CURES: dict[str, tuple[dict, int, int | None]] = {
    "algorithm1": (ALGORITHM_1, 13, 20),
    "default": ({}, 9, 19),
    "minibatch-discrimination": ({"model.minibatch_discrimination": 100}, 5, 7),  # Salimans et al. 2016's 100 kernels of 5
    "minibatch-stddev": ({"model.minibatch_stddev": True}, 8, 17),
    "replay": ({"train.replay.size": 6400}, 9, 18),  # the fakes of the last 100 iterations, half of each fake batch
    # Replay collapsed with the default's batch norm in D, whose statistics differ between the mixed batch of D's step and the
    # all-new batch of G's: the same with layer norm, which normalizes each image alone (its cost taken as replay's).
    "replay-layer-norm": ({"train.replay.size": 6400, "model.discriminator_norm": "layer"}, 9, None),
    "pack2": ({"model.pack": 2}, 14, 23),  # PacGAN's PacDCGAN2
    "relativistic-r1-r2": ({"train.loss": "relativistic", "train.r2_gamma": 1.0}, 7, 15),  # R3GAN: R1 and R2 at one gamma (r1_gamma's 1)
}
SMALL_DISCRIMINATOR = {"model.discriminator_width": 8}


def modes_run(name: str, small_discriminator: bool = False) -> dict:
    """Dotted params of one configuration of the mode study: Stacked MNIST's profile, the cure, its epochs, the last generator."""
    changes, epochs, small_epochs = MODE_CURES[name]
    return {
        **flatten(load_profile(PROFILES / "stacked_mnist.yaml")), **changes, **(SMALL_DISCRIMINATOR if small_discriminator else {}),
        "train.epochs": small_epochs if small_discriminator else epochs, "sample.checkpoint": "last",
    }  # fmt: skip


SMALL_DATA = {"data.limit": 500, "train.epochs": 150, "train.eval_every": 10, "train.ada_images": 20000}  # 400 training images, 900 iterations
RATIO_EPOCHS = 20
METRICS = "fid,is_mean,precision,recall,coverage,kid_mean"  # what a study compares unless its "metrics" says
MODE_METRICS = "modes,mode_kl,fid,precision,recall"  # Stacked MNIST's: the modes covered and their KL from uniform first
# study: the experiments (name -> params over params.yaml), the seeds of each, and the baseline of the comparison
STUDIES = {
    # round 1 ran at commit 383ecb4 (before the best generator was kept: its scores are the last generator's)
    "screen": {
        "runs": dict.fromkeys(["longer", "ema", "ema-ttur", "ema-hinge-sn", "ema-diffaugment", "ema-reuse"], "recipe"),
        "seeds": [0],
        "baseline": "longer",
    },
    "screen2": {
        "runs": dict.fromkeys(
            [
                "longer",
                "ema995",
                "ema995-lr4e-4",
                "ema995-glr4e-4",
                "ema995-dlr1e-4",
                "ema995-reuse",
                "ema995-wide",
                "ema995-r1",
                "ema995-mbstd",
                "ema995-smoothing",
                "ema995-batch128",
                "ema995-gsteps2",
            ],
            "recipe",
        ),
        "seeds": [0],
        "baseline": "longer",
    },
    "screen3": {
        "runs": dict.fromkeys(["ema995-lr4e-4", "ema995-lr4e-4-reuse", "ema995-lr8e-4-reuse", "ema995-glr8e-4-dlr4e-4-reuse"], "recipe"),
        "seeds": [0],
        "baseline": "ema995-lr4e-4",
    },
    # Round 4 (R1 with the other levers, at other strengths) was queued and then dropped for time in favour of
    # round 5's two runs; its recipes stay above for whoever runs it next.
    "screen4": {
        "runs": dict.fromkeys(["ema995-r1", "ema995-r1-reuse", "ema995-r1-lr4e-4", "ema995-r1-lr4e-4-reuse", "ema995-r0.1", "ema995-r10"], "recipe"),
        "seeds": [0],
        "baseline": "ema995-r1",
    },
    "screen5": {"runs": dict.fromkeys(["ema995-r1-lr8e-4-reuse", "ema995-lr1.6e-3-reuse"], "recipe"), "seeds": [0], "baseline": "ema995-r1-lr8e-4-reuse"},
    # The finalists over three seeds: round 5's best (the default now) and its runner-up without R1
    "confirm": {
        "runs": dict.fromkeys(["old-default", "final-ema995-r1-lr8e-4-reuse", "final-ema995-lr1.6e-3-reuse"], "recipe"),
        "seeds": [0, 1, 2],
        "baseline": "old-default",
    },
    # The README's tables, over params.yaml (the default the study chose): three seeds of each configuration
    "conditional": {"runs": {"default": {}, "conditional": {"model.conditional": True}}, "seeds": [0, 1, 2], "baseline": "default"},
    "norms": {
        "runs": {"default": {}, "spectral-norm": {"model.discriminator_norm": "none", "model.spectral_norm": "discriminator"}},
        "seeds": [0, 1, 2],
        "baseline": "default",
    },
    "small": {
        "runs": {f"augment-{augment}": {**SMALL_DATA, "train.augment": augment} for augment in ("none", "diffaugment", "ada")},
        "seeds": [0, 1, 2],
        "baseline": "augment-none",
    },
    # k:1 at a short budget (a sixth of the default's epochs), at equal discriminator updates (equal epochs) and at
    # equal generator updates (k times the epochs): the seed notes' open question
    "ratio": {
        "runs": {
            "1to1": {"train.epochs": RATIO_EPOCHS},
            **{f"{k}to1-equal-epochs": {"train.discriminator_steps": k, "train.epochs": RATIO_EPOCHS} for k in (2, 5)},
            **{f"{k}to1-equal-generator-updates": {"train.discriminator_steps": k, "train.epochs": k * RATIO_EPOCHS} for k in (2, 5)},
            # the generator's moving average forgets its random start over a few hundred generator updates, which k:1
            # at equal epochs does not get: the same runs scored on the raw generator
            **{
                f"{k}to1{'-equal-epochs' if k > 1 else ''}-no-ema": {"train.discriminator_steps": k, "train.epochs": RATIO_EPOCHS, "train.ema": None}
                for k in (1, 2, 5)
            },
        },
        "seeds": [0, 1, 2],
        "baseline": "1to1",
        "reference": "conditional-default",
    },  # the default's 90 epochs of 1:1, drawn with it
    # The committed default at ten seeds: the prediction intervals of `make verify` (ganyard.verify) on other kernels.
    # Seeds 0-2 ran as conditional-default-seed0..2 (the same params) at 3fcafca on AVX-512; studies/seed_band.json keeps them.
    "seeds": {"runs": {"default": {}}, "seeds": list(range(10)), "baseline": "default"},
    "architectures": architectures64(architecture_run, {"dcgan": 8, "msg": 6, "progressive": 6, "stylegan2": 6}),
    "emoji": architectures64(emoji_run, EMOJI_EPOCHS),
    "emoji128": {
        "runs": {architecture: {**run, **EMOJI128} for architecture, run in architectures64(emoji_run, EMOJI_EPOCHS)["runs"].items()},
        "seeds": [0],
        "baseline": "dcgan",
        "stage": "sample",  # pictures only: no evaluator at 128 px (see EMOJI128)
        "grids": True,
        "grid_samples": 16,
        "clock": "measured",
    },
    "architectures32": {
        "runs": {"dcgan": architecture32_run("dcgan", 90), "msg": architecture32_run("msg", 75), "progressive": architecture32_run("progressive", 45)},
        "seeds": [0, 1, 2],
        "baseline": "dcgan",
        "budget_seconds": ARCHITECTURE32_BUDGET_SECONDS,
        "grids": True,
        "jobs": 1,  # one run at a time with the machine's 2 threads: the seconds it takes are the target's seconds on 2 cores
    },
    "stylegan2": {
        "runs": {"recipe": architecture32_run("stylegan2", 95)},
        "seeds": [0, 1, 2],
        "baseline": "recipe",
        "beside": ("architectures32", "dcgan"),  # another study's configuration, drawn and compared with this one's (the DCGAN default)
        "budget_seconds": STYLEGAN2_BUDGET_SECONDS,
        "grids": True,
        "jobs": 1,
    },
    "stacked": {
        "runs": {
            "epochs15": {**flatten(load_profile(PROFILES / "stacked_mnist.yaml")), "train.epochs": 15},
            "default": flatten(load_profile(PROFILES / "stacked_mnist.yaml")),
        },
        "seeds": [0, 1, 2],
        "baseline": "default",
        "budget_seconds": STACKED_BUDGET_SECONDS,
        "grids": True,
        "metrics": MODE_METRICS,
        "jobs": 1,
    },
    "modes": {
        "runs": {name: modes_run(name) for name in MODE_CURES},
        "seeds": [0, 1, 2],
        "baseline": "default",
        "budget_seconds": MODES_BUDGET_SECONDS,
        "grids": True,
        "metrics": MODE_METRICS,
    },
    "modesnarrow": {  # not "modes-...": the names of one study must not start with another's prefix
        "runs": {name: modes_run(name, small_discriminator=True) for name, (_, _, small_epochs) in MODE_CURES.items() if small_epochs},
        "seeds": [0, 1, 2],
        "baseline": "default",
        "budget_seconds": MODES_BUDGET_SECONDS,
        "grids": True,
        "metrics": MODE_METRICS,
    },
    "tenminutes": {
        "runs": {name: architecture32_run(architecture, epochs) for name, (architecture, epochs) in TEN_MINUTES_RUNS.items()},
        "seeds": [0, 1, 2],
        "baseline": "msg",
        "beside": ("architectures32", "dcgan"),
        "budget_seconds": ARCHITECTURE32_BUDGET_SECONDS,
        "grids": True,
        "jobs": 1,
    },
}
BAND = {"study": "seeds", "configuration": "default", "path": Path(SEED_BAND)}
# The metrics files of the stages a study runs (up to evaluate); the others in an experiment's commit are its baseline's.
BAND_FILES = tuple(str(path) for path in (paths.DATA_METRICS, paths.EVALUATOR_METRICS, paths.TRAIN_SUMMARY, paths.EVAL_METRICS))


def recipe_params(name: str) -> dict:
    """Every param a recipe sets, its epochs included, as dotted keys."""
    changes, epochs = RECIPES[name]
    return {**OLD_DEFAULT, **changes, "train.epochs": epochs}


def run_params(study: str, name: str) -> dict:
    spec = STUDIES[study]["runs"][name]
    return recipe_params(name) if spec == "recipe" else spec


def finished_experiments() -> set[str]:
    """Names of the finished experiments (those with metrics/eval.json) of every commit: the rounds of the
    screen hang off the commits that added them. Read from the git refs DVC keeps them under
    (``refs/exps/<baseline commit>/<name>``), in a second where `dvc exp show --all-commits` takes minutes."""
    return set(experiment_refs())


def experiment_refs() -> dict[str, str]:
    """Name -> git ref of every finished experiment (its commit has metrics/eval.json), of every commit. DVC makes the
    ref only when the run reached its last stage; an experiment run to an earlier stage than evaluate has the eval.json
    of the commit it started from (``evaluated`` tells them apart)."""
    refs = subprocess.run(["git", "for-each-ref", "refs/exps", "--format=%(refname)"], capture_output=True, text=True, check=True).stdout.split()
    refs = [ref for ref in refs if re.fullmatch(r"refs/exps/[0-9a-f]{2}/[0-9a-f]{38}/[^/]+", ref)]  # not the queue's refs/exps/celery/...
    checked = subprocess.run(
        ["git", "cat-file", "--batch-check"], input="".join(f"{ref}:{EVAL_FILE}\n" for ref in refs), capture_output=True, text=True, check=True
    ).stdout.splitlines()
    return {ref.rsplit("/", 1)[-1]: ref for ref, line in zip(refs, checked) if not line.endswith("missing")}


def last_stage(study: str) -> str:
    """The stage ``study``'s experiments run to: its "stage", evaluate unless it says (style transfer and the report are
    not part of a comparison)."""
    return STUDIES[study].get("stage", "evaluate")


def queue_commands(study: str, seeds: list[int] | None = None, runs: list[str] | None = None) -> list[list[str]]:
    """The `dvc exp run --queue` command of every run of ``study`` (of ``seeds`` and of the configurations ``runs`` only, when given)."""
    spec = STUDIES[study]
    commands = []
    # Seed by seed, every configuration of a seed before the next seed: an interrupted study has whole seeds to compare.
    for seed in spec["seeds"] if seeds is None else [seed for seed in spec["seeds"] if seed in seeds]:
        for name in spec["runs"] if runs is None else [name for name in spec["runs"] if name in runs]:
            sets = [f"{key}={override_value(value)}" for key, value in {**run_params(study, name), "seed": seed}.items()]
            commands.append(
                ["dvc", "exp", "run", "--queue", "-n", f"{study}-{name}-seed{seed}", *[part for s in sets for part in ("-S", s)], last_stage(study)]
            )
    return commands


def wait_for_queue(poll_seconds: float = 30) -> None:
    """Until `dvc queue status` lists nothing queued or running."""
    while True:
        status = subprocess.run(["dvc", "queue", "status"], capture_output=True, text=True).stdout
        if not any(word in status for word in ("Queued", "Running")):
            return
        time.sleep(poll_seconds)


def experiment_name(command: list[str]) -> str:
    """The ``-n`` name of a `dvc exp run` command."""
    return command[command.index("-n") + 1]


def missing_folders(study: str) -> list[str]:
    """The ``data.path`` folders that ``study``'s folder runs read and that do not exist, each with how to make it."""
    folders = {run["data.path"] for run in STUDIES[study]["runs"].values() if isinstance(run, dict) and run.get("data.source") == "folder"}
    how = {str(EMOJI): "python -m ganyard.data.emoji --out data/emoji --size 128 (needs Debian's fonts-noto-color-emoji)"}
    return [f"data.path {folder} does not exist: {how.get(folder, 'write the pictures there')}" for folder in sorted(folders) if not Path(folder).is_dir()]


def run_study(study: str, dry: bool, seeds: list[int] | None = None, runs: list[str] | None = None) -> int:
    if missing := missing_folders(study):
        print(f"studies/run.py {study}: " + "; ".join(missing), file=sys.stderr)
        return 2
    if unknown := sorted(set(runs or []) - set(STUDIES[study]["runs"])):
        print(f"studies/run.py {study}: --runs {' '.join(unknown)}: not configurations of it ({', '.join(STUDIES[study]['runs'])})", file=sys.stderr)
        return 2
    done = set() if dry else finished_experiments()
    for command in queue_commands(study, seeds, runs):
        if experiment_name(command) in done:
            print(f"{experiment_name(command)}: finished already")
            continue
        print(" ".join(command))
        if not dry:
            subprocess.run(command, check=True)
    if dry:
        return 0
    spec = STUDIES[study]
    jobs = spec.get("jobs", 2)
    threads = {"OMP_NUM_THREADS": "1"} if jobs > 1 else {}  # two runs at a time: a thread each, what suits 2 cores
    subprocess.run(["dvc", "queue", "start", "-j", str(jobs)], check=True, env={**os.environ, **threads})
    wait_for_queue()
    draw_study(study)
    if last_stage(study) != "evaluate":
        return 0  # nothing scored to compare
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "ganyard.compare",
            "--all-commits",
            "--names",
            ",".join([f"{study}-*", *([f"{beside_configuration(study)}-*"] if "beside" in spec else [])]),
            "--baseline",
            f"{study}-{spec['baseline']}",
            "--metrics",
            spec.get("metrics", METRICS),
            "--out",
            f"reports/study-{study}",
        ]
    ).returncode


def draw_study(study: str) -> None:
    """The study's files from its finished runs: the measured clocks, the targets' table (a study run one at a time), the
    quick-FID curves and updates (a study run to evaluate), the sample grids; each path printed."""
    spec = STUDIES[study]
    if measured_clock(spec):
        print(f"wrote {record_train_seconds(study)}")
    if last_stage(study) == "evaluate":
        if spec.get("jobs") == 1:
            print(f"wrote {targets_table(study)}")
        print(f"wrote {plot_curves(study)}")
        if "reference" in spec:
            print(f"wrote {plot_updates(study)}")
    if spec.get("grids"):
        print(f"wrote {plot_grids(study)}")


def quick_fid_curves(study: str, with_updates: bool = False) -> dict[str, list]:
    """Per configuration of ``study`` (name without the seed), (experiment name, quick-FID curve [(epoch, FID)]) of
    each finished seed, read from the experiments' git refs. ``with_updates``: each seed as (curve, generator
    updates per epoch, discriminator updates per epoch), from its metrics/train/metrics.json: at k:1 an epoch
    is k times as many discriminator as generator updates."""
    curves: dict[str, list] = {}
    for name, ref in experiment_refs().items():
        if not name.startswith(f"{study}-"):
            continue
        text = subprocess.run(["git", "show", f"{ref}:metrics/train/plots/metrics/fid.tsv"], capture_output=True, text=True, check=True).stdout
        curve = [(int(step), float(fid)) for step, fid in (line.split("\t") for line in text.splitlines()[1:])]
        if with_updates:
            metrics = json.loads(subprocess.run(["git", "show", f"{ref}:metrics/train/metrics.json"], capture_output=True, text=True, check=True).stdout)
            curve = (curve, metrics["generator_updates"] / metrics["step"], metrics["discriminator_updates"] / metrics["step"])
        curves.setdefault(name_stem(name).removeprefix(f"{study}-"), []).append((name, curve))
    return curves


def beside_configuration(study: str) -> str | None:
    """The name its experiments carry without ``-seed<N>`` (``architectures32-dcgan``) of ``study``'s ``beside``
    configuration of another study, or None."""
    return "-".join(STUDIES[study]["beside"]) if "beside" in STUDIES[study] else None


def study_curves(study: str) -> dict[str, list]:
    """``quick_fid_curves`` of ``study``, with its ``beside`` configuration of another study under that study's
    prefix (``architectures32-dcgan``), so that runs finished for one study serve another without training again."""
    curves = quick_fid_curves(study)
    if "beside" in STUDIES[study]:
        other, configuration = STUDIES[study]["beside"]
        beside = quick_fid_curves(other).get(configuration, [])
        if not beside:
            print(f"{beside_configuration(study)}: no finished experiments here (`dvc exp pull` them); drawn without it")
        else:
            curves[beside_configuration(study)] = beside
    return curves


def measured_clock(spec: dict) -> str | None:
    """How the wall clock of a study's runs was measured, as the curves' x axis says it; None for a study drawn over its
    nominal budget (or its epochs). Measured: a study run one at a time (its clock is the target's), or marked ``"clock":
    "measured"`` (two at a time, one thread each)."""
    if spec.get("jobs", 2) == 1:
        return "minutes of training, measured (2 cores, one run at a time)"
    if spec.get("clock") == "measured":
        return "minutes of training, measured (one thread each, two runs at a time)"
    return None


def measured_seconds(study: str) -> dict:
    """studies/seconds-<study>.json (``record_train_seconds``), and its ``beside`` study's."""
    studies = [study, *([STUDIES[study]["beside"][0]] if "beside" in STUDIES[study] else [])]
    files = [Path(f"studies/seconds-{name}.json") for name in studies]
    return {name: run for path in files if path.is_file() for name, run in json.loads(path.read_text(encoding="utf-8")).items()}


def plot_updates(study: str) -> Path:
    """reports/study-<study>-updates.png: quick FID over generator updates (left) and over discriminator
    updates (right), one line per seed, with the study's ``reference`` runs: k:1 against 1:1 both ways."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    reference = STUDIES[study]["reference"]
    curves = {
        f"the default, 1:1 (runs {reference}-seed*)" if configuration == reference else configuration: runs
        for configuration, runs in {**quick_fid_curves(reference, with_updates=True), **quick_fid_curves(study, with_updates=True)}.items()
    }
    figure, axes = plt.subplots(1, 2, figsize=(11, 4.8), sharey=True)
    for index, (name, runs) in enumerate(sorted(curves.items())):
        color = plt.get_cmap("tab10")(index % 10)
        for seed_index, (_, (curve, *per_epoch)) in enumerate(runs):
            for axis, updates_per_epoch in zip(axes, per_epoch):
                axis.plot(
                    [epoch * updates_per_epoch for epoch, _ in curve],
                    [fid for _, fid in curve],
                    color=color,
                    alpha=0.85,
                    linewidth=1,
                    label=name if seed_index == 0 else None,
                )
                axis.plot(curve[-1][0] * updates_per_epoch, curve[-1][1], "o", color=color, markersize=4)  # where the run stopped
    for axis, what in zip(axes, ("generator", "discriminator")):
        axis.set(xscale="log", yscale="log", xlabel=f"{what} updates", title=f"quick FID over {what} updates")
        axis.grid(alpha=0.3, which="both")
    axes[0].set_ylabel("quick FID (training split)")
    figure.legend(*axes[0].get_legend_handles_labels(), loc="lower center", ncol=3, fontsize=7)
    figure.suptitle(f"Study {study!r}: one line per seed, a dot where it stopped", fontsize=10)
    figure.tight_layout(rect=(0, 0.1, 1, 1))
    path = Path(f"reports/study-{study}-updates.png")
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=110)
    plt.close(figure)
    return path


def plot_curves(study: str) -> Path:
    """reports/study-<study>-curves.png: quick FID over the training time each recipe had (its share of
    BUDGET_SECONDS on the development machine), one line per seed."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    spec = STUDIES[study]
    recipes = all(run == "recipe" for run in spec["runs"].values())  # else: over params.yaml, drawn per epoch unless budgeted
    timed = recipes or "budget_seconds" in spec
    measured_path = Path(f"studies/seconds-{study}.json")  # each run's own wall clock (record_train_seconds), where measured_clock says so
    measured = measured_seconds(study) if measured_clock(spec) else {}
    figure, axis = plt.subplots(figsize=(7.5, 4.2))
    for index, (name, runs) in enumerate(sorted(study_curves(study).items())):
        if recipes:
            per_epoch = BUDGET_SECONDS / RECIPES["longer" if name == "old-default" else name][1] / 60  # old-default: the 1:1 cost of an epoch
        else:  # a budgeted study's runs (or its beside configuration's, in the other study): their budget spread evenly over their epochs
            owner, run = (STUDIES[study], name) if name in spec["runs"] else (STUDIES[spec["beside"][0]], spec["beside"][1])
            per_epoch = owner["budget_seconds"] / owner["runs"][run]["train.epochs"] / 60 if timed else 1
        color = plt.get_cmap("tab20")((2 * index) % 20 + (index // 10) % 2)  # ten hues, then their light shades
        clocks = {seed_name: dict(measured[seed_name]["epoch_seconds"]) for seed_name, _ in runs if seed_name in measured}
        for seed_index, (seed_name, curve) in enumerate(runs):
            clock, borrowed = clocks.get(seed_name), False
            if measured and clock is None and clocks:  # a run DVC answered from its cache: the same params' cost, its other seeds' mean clock
                clock = {epoch: statistics.fmean(other[epoch] for other in clocks.values() if epoch in other) for epoch, _ in curve}
                borrowed = True
                print(f"{seed_name}: no wall clock recorded (a cached run); drawn at the mean clock of its other seeds, dashed")
            if measured and (clock is None or not all(epoch in clock for epoch, _ in curve)):
                print(f"{seed_name}: no wall clock recorded in {measured_path}; left out of the curves")
                continue
            minutes = [clock[epoch] / 60 for epoch, _ in curve] if measured else None
            axis.plot(
                minutes or [epoch * per_epoch for epoch, _ in curve],
                [fid for _, fid in curve],
                linestyle="--" if borrowed else "-",
                color=color,
                alpha=0.9,
                linewidth=1,
                label=name if seed_index == 0 else None,
            )
    if measured:  # the runs' nominal budget: what was measured beyond it is the machine's, not the recipe's, doing
        axis.axvline(spec["budget_seconds"] / 60, color="grey", linestyle=":", linewidth=1, label=f"{spec['budget_seconds'] / 60:g} minutes")
    axis.set(
        yscale="log",
        ylim=(None, None if "budget_seconds" in spec else 100),
        xlabel=measured_clock(spec)
        if measured
        else ("minutes of training on the development machine (2 threads)" if spec.get("jobs", 2) == 1 else "minutes of the budget, spread over the epochs")
        if timed
        else "epoch",
        ylabel="quick FID (training split)",
        title=f"Quick FID during training: study {study!r}, one line per seed",
    )
    axis.grid(alpha=0.3, which="both")
    axis.legend(fontsize=7, ncol=2)
    figure.tight_layout()
    path = Path(f"reports/study-{study}-curves.png")
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=110)
    plt.close(figure)
    return path


def experiment_stages(ref: str) -> dict:
    """The stages of the dvc.lock of the experiment at git ``ref``: name -> its deps and outs with their md5."""
    return yaml.safe_load(subprocess.run(["git", "show", f"{ref}:dvc.lock"], capture_output=True, text=True, check=True).stdout)["stages"]


def cached_output(ref: str, path: Path) -> Path:
    """The DVC cache file of ``path`` (a stage's output file, or a file inside its output folder) in the experiment at git ``ref``."""
    cache = Path(subprocess.run(["dvc", "cache", "dir"], capture_output=True, text=True, check=True).stdout.strip()) / "files" / "md5"
    for stage in experiment_stages(ref).values():
        for out in stage.get("outs", []):
            folder = Path(out["path"])
            if folder == path and not out["md5"].endswith(".dir"):
                return cache / out["md5"][:2] / out["md5"][2:]
            if folder in path.parents and out["md5"].endswith(".dir"):
                manifest = json.loads((cache / out["md5"][:2] / out["md5"][2:]).read_text())
                md5 = next(entry["md5"] for entry in manifest if entry["relpath"] == path.relative_to(folder).as_posix())
                return cache / md5[:2] / md5[2:]
    raise SystemExit(f"studies/run.py: {path} is in no output folder of {ref}'s dvc.lock")


def evaluated(ref: str) -> bool:
    """Whether the experiment at git ``ref`` scored its own outputs: its evaluate stage ran and read what its other stages
    wrote (the samples, the evaluator, the real statistics, the data). Run to the sample stage only, it keeps the
    metrics/eval.json and the evaluate entry of the commit it started from, which read that commit's outputs."""
    stages = experiment_stages(ref)
    written = {out["path"]: out["md5"] for stage in stages.values() for out in stage.get("outs", [])}
    read = stages.get("evaluate", {}).get("deps", [])
    return bool(read) and all(written[dep["path"]] == dep["md5"] for dep in read if dep["path"] in written)


QUEUE_LOGS = Path(".dvc/tmp/exps/run")  # where `dvc queue` keeps each task's output: <task>/<task>.out
EXPERIMENT_LINE = re.compile(r"Reproducing experiment '([^']+)'")
# tqdm's line of the train stage; the bar's postfix names the epoch whose updates have just ended (training.train)
EPOCH_LINE = re.compile(r"train:[^\[]*\[(?:(\d+):)?(\d+):(\d+)<[^\]]*?epoch=(\d+)")
TRAINED_LINE = re.compile(r"trained epochs 1 to (\d+) in ([0-9.]+) s")


def train_seconds_from_log(text: str) -> dict | None:
    """From one `dvc queue` task's output: the experiment's name, the wall-clock second at which each epoch's
    updates ended (tqdm's elapsed time when the bar first names the epoch, the quick FIDs of the epochs before
    included) and the train stage's own total ("trained epochs 1 to N in X s"). None unless the train stage ran
    from its first epoch to its end in that task (a run from DVC's cache, or resumed, has no such record)."""
    name, total = EXPERIMENT_LINE.search(text), TRAINED_LINE.search(text)
    if name is None or total is None:
        return None
    epochs: dict[int, int] = {}
    for hours, minutes, seconds, epoch in EPOCH_LINE.findall(text.replace("\r", "\n")):
        epochs.setdefault(int(epoch), 3600 * int(hours or 0) + 60 * int(minutes) + int(seconds))
    last = int(total.group(1))
    epochs[last] = round(float(total.group(2)))  # the last epoch ends with the stage's total, its quick FID included
    return {"name": name.group(1), "train_seconds": float(total.group(2)), "epoch_seconds": sorted(epochs.items())}


def record_train_seconds(study: str) -> Path:
    """studies/seconds-<study>.json: every run's wall clock per epoch, read from `dvc queue`'s task logs (which
    live in .dvc/tmp and are not versioned) and merged over the runs recorded before, with the CPU it ran on. Where
    tasks of one name ran more than once (an experiment renamed, or removed and run again), the newest log wins."""
    import torch

    path = Path(f"studies/seconds-{study}.json")
    recorded = json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}
    for log in sorted(QUEUE_LOGS.glob("*/*.out"), key=lambda log: log.stat().st_mtime):
        run = train_seconds_from_log(log.read_text(encoding="utf-8", errors="replace"))
        if run is not None and run["name"].startswith(f"{study}-"):
            recorded[run["name"]] = {
                "train_seconds": run["train_seconds"],
                "torch_cpu_capability": torch.backends.cpu.get_cpu_capability(),
                "epoch_seconds": run["epoch_seconds"],
            }
    text = "{\n" + ",\n".join(f"  {json.dumps(name)}: {json.dumps(recorded[name])}" for name in sorted(recorded)) + "\n}\n"
    write_text(text, path)
    return path


CLASS_SHARE_COVERED = 0.01  # a class counts as drawn when at least 1% of the samples are read as it (a tenth of its share in the data)


def targets_table(study: str) -> Path:
    """reports/study-<study>-targets.md: for each run of a study timed on the wall clock, its measured seconds of
    training, the quick FID at the last evaluation within ``budget_seconds``, and the scores of the generator it
    sampled (the evaluator's FID against the test split, and the classes drawn: at least CLASS_SHARE_COVERED of the
    samples), the figures of issues 32 and 33's targets. On Stacked MNIST (its eval.json has ``modes``) the modes
    covered and their KL from uniform, each beside the real test images' at the same count, instead of the classes."""
    spec, refs = STUDIES[study], experiment_refs()
    measured, curves = measured_seconds(study), study_curves(study)
    budget = spec["budget_seconds"]
    prefixes = (f"{study}-", *([f"{beside_configuration(study)}-seed"] if "beside" in spec else []))
    rows, modes = [], False
    for name in sorted(ref for ref in refs if ref.startswith(prefixes)):
        clock = dict(measured.get(name, {}).get("epoch_seconds", []))
        (_, curve), *_ = [run for runs in curves.values() for run in runs if run[0] == name]
        within = [(epoch, fid) for epoch, fid in curve if epoch in clock and clock[epoch] <= budget]
        at_budget = f"{within[-1][1]:.1f} ({within[-1][0]})" if within else "no record"
        scores = json.loads(subprocess.run(["git", "show", f"{refs[name]}:{paths.EVAL_METRICS}"], capture_output=True, text=True, check=True).stdout)
        if "modes" in scores:  # Stacked MNIST's runs (a study does not mix sources)
            modes = True
            coverage = f"{scores['modes']} ({scores['modes_real']}) | {scores['mode_kl']:.3f} ({scores['mode_kl_real']:.3f})"
        else:
            histogram = subprocess.run(["git", "show", f"{refs[name]}:{paths.CLASS_HISTOGRAM}"], capture_output=True, text=True, check=True).stdout
            drawn = sum(float(line.split(",")[1]) >= CLASS_SHARE_COVERED for line in histogram.splitlines()[1:])
            coverage = f"{drawn} of {len(histogram.splitlines()) - 1}"
        seconds = measured.get(name, {}).get("train_seconds")
        rows.append(
            f"| {name} | {'not recorded' if seconds is None else f'{seconds:.0f}'} | {at_budget} | {scores['fid']:.2f} ({scores['fid_real']:.2f}) | "
            f"{coverage} | {scores['is_mean']:.2f} | {scores['precision']:.3f} | {scores['recall']:.3f} |"
        )
    header = "modes (real) | mode KL (real)" if modes else "classes drawn"
    rows = [
        f"| run | seconds of training | quick FID at {budget} s (epoch) | FID (real) | {header} | IS | precision | recall |",
        "| --- " * (9 if modes else 8) + "|",
        *rows,
    ]
    path = Path(f"reports/study-{study}-targets.md")
    write_text("\n".join(rows) + "\n", path)
    return path


GRID_COLUMNS = 4  # grids side by side in a row of reports/study-<study>-grids.png; more configurations wrap to further rows


GRID_DPI = 110


def plot_grids(study: str, seed: int = 0) -> Path:
    """reports/study-<study>-grids.png: the sample grid (data/samples/grid.png) of seed ``seed`` of every configuration, side by
    side; with the study's ``grid_samples`` N, a grid of its first N samples instead, drawn at their own pixels (64 samples of 128 px
    in a panel of a few hundred pixels would show none of the detail that 128 px adds)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import torch
    from PIL import Image

    from ganyard.images import to_grid

    refs, spec = experiment_refs(), STUDIES[study]
    configurations = [f"{study}-{name}" for name in spec["runs"]] + ([beside_configuration(study)] if "beside" in spec else [])
    names = [name for name in configurations if f"{name}-seed{seed}" in refs]
    if "grid_samples" in spec:
        first = spec["grid_samples"]
        pictures = [to_grid(torch.load(cached_output(refs[f"{name}-seed{seed}"], paths.SAMPLE_IMAGES), weights_only=True)["images"][:first]) for name in names]
    else:
        pictures = [Image.open(cached_output(refs[f"{name}-seed{seed}"], paths.SAMPLE_GRID)) for name in names]
    columns = min(len(names), GRID_COLUMNS)
    rows = -(-len(names) // columns)
    if "grid_samples" in spec:  # a pixel of the figure for each of the pictures', and room for the titles
        width, height = max(picture.width for picture in pictures) / GRID_DPI, max(picture.height for picture in pictures) / GRID_DPI
        figure, axes = plt.subplots(rows, columns, figsize=(width * columns, (height + 0.5) * rows + 0.4), squeeze=False)
    else:
        figure, axes = plt.subplots(rows, columns, figsize=(max(3.6 * columns, 6.0), 3.9 * rows), squeeze=False)  # room for the title
    for axis in axes.flat:
        axis.axis("off")
    for axis, name, picture in zip(axes.flat, names, pictures):
        axis.imshow(picture, cmap="gray", interpolation="none" if "grid_samples" in spec else None)
        axis.set_title(name.removeprefix(f"{study}-"), fontsize=11)
    shown = f"the first {spec['grid_samples']} samples" if "grid_samples" in spec else "the sample grid"
    figure.suptitle(f"Study {study!r}: {shown} of seed {seed} of each configuration", fontsize=10)
    if "grid_samples" in spec:
        figure.subplots_adjust(left=0, right=1, bottom=0, top=1 - 0.4 / figure.get_figheight(), wspace=0, hspace=0.5 / (height + 0.5))
    else:
        figure.tight_layout()
    path = Path(f"reports/study-{study}-grids.png")
    figure.savefig(path, dpi=GRID_DPI)
    plt.close(figure)
    return path


def calibrate(rounds: int) -> None:
    """Median seconds per epoch of each recipe's training on this machine, alternating recipes each
    round so that a slow spell falls on all alike, and the epochs that fill BUDGET_SECONDS."""
    import torch

    from ganyard.models import build_discriminator, build_generator
    from ganyard.params import validate_params
    from ganyard.training import make_gan, train

    images = torch.load(paths.TRAIN_DATA, weights_only=True)["images"]  # run `dvc repro prepare` first
    runs = {}
    for name in RECIPES:
        raw: dict = {}
        for key, value in recipe_params(name).items():
            if key.startswith("sample."):
                continue
            section, _, leaf = key.rpartition(".")
            raw.setdefault(section, {})[leaf] = value
        params = validate_params(raw)
        torch.manual_seed(0)
        gan = make_gan(
            build_generator(params.model, channels=images.shape[1], image_size=images.shape[-1]),
            build_discriminator(params.model, channels=images.shape[1], image_size=images.shape[-1]),
            params.train,
        )
        one_epoch = params.train.model_copy(update={"epochs": 1})
        runs[name] = (gan, one_epoch, torch.Generator().manual_seed(0))
        train(gan, images[:640], one_epoch, runs[name][2], progress=False)  # warm-up
    seconds = {name: [] for name in runs}
    for _ in range(rounds):
        for name, (gan, one_epoch, rng) in runs.items():
            started = time.perf_counter()
            train(gan, images, one_epoch, rng, progress=False)
            seconds[name].append(time.perf_counter() - started)
    print(f"{torch.get_num_threads()} threads, {len(images)} training images, budget {BUDGET_SECONDS} s")
    for name, values in seconds.items():
        per_epoch = statistics.median(values)
        print(f"{name:>16}: {per_epoch:.2f} s per epoch -> {BUDGET_SECONDS / per_epoch:.0f} epochs in the budget (RECIPES has {RECIPES[name][1]})")


COST_ITERATIONS = 10  # per timed slice of --cost


def study_cost(study: str, rounds: int) -> None:
    """Print the seconds per training iteration of every configuration of ``study`` on this machine, and the epochs that
    take its ``budget_seconds``: ganyard's own ``train`` on random images of the study's shape (3 channels on Stacked
    MNIST, else ``data.channels`` or 1) at the run's batch size, with one thread when the study runs two at a time. The
    configurations take turns over ``rounds`` rounds of COST_ITERATIONS iterations, so that a slow spell falls on all
    alike; the median of each. The quick FID every ``train.eval_every`` epochs is not in it (about a second each)."""
    import torch

    spec, threads = STUDIES[study], torch.get_num_threads()
    if spec.get("jobs", 2) > 1:
        torch.set_num_threads(1)
    try:
        _time_configurations(study, rounds)
    finally:
        torch.set_num_threads(threads)


def _time_configurations(study: str, rounds: int) -> None:
    import torch

    from ganyard.models import build_discriminator, build_generator
    from ganyard.params import validate_params
    from ganyard.profiles import merge, unflatten
    from ganyard.training import make_gan, train

    spec = STUDIES[study]
    base = yaml.safe_load(Path("params.yaml").read_text(encoding="utf-8"))
    runs = {}
    for name in spec["runs"]:
        params = validate_params(merge(base, unflatten(run_params(study, name))))
        channels = 3 if params.data.source == "stacked_mnist" else params.data.channels or 1
        shape = {"channels": channels, "image_size": params.data.image_size}
        images = torch.rand(COST_ITERATIONS * params.train.batch_size, channels, params.data.image_size, params.data.image_size) * 2 - 1
        torch.manual_seed(0)
        gan = make_gan(build_generator(params.model, **shape), build_discriminator(params.model, **shape), params.train)
        one_epoch = params.train.model_copy(update={"epochs": 1})
        rng = torch.Generator().manual_seed(0)
        train(gan, images, one_epoch, rng, progress=False)  # warm-up
        runs[name] = (gan, one_epoch, images, rng, params)
    seconds: dict[str, list[float]] = {name: [] for name in runs}
    for _ in range(rounds):
        for name, (gan, one_epoch, images, rng, _params) in runs.items():
            started = time.perf_counter()
            train(gan, images, one_epoch, rng, progress=False)
            seconds[name].append((time.perf_counter() - started) / COST_ITERATIONS)
    print(
        f"study {study}: {torch.get_num_threads()} thread(s), median of {rounds} rounds of {COST_ITERATIONS} iterations, budget {spec.get('budget_seconds')} s"
    )
    for name, values in seconds.items():
        params = runs[name][4]
        iterations = (params.data.stacked_train_images if params.data.source == "stacked_mnist" else None) or 0
        per_iteration = statistics.median(values)
        epochs = ""
        if iterations and "budget_seconds" in spec:
            per_epoch = per_iteration * (iterations // params.train.batch_size)
            epochs = f", {per_epoch:.0f} s per epoch -> {spec['budget_seconds'] / per_epoch:.1f} epochs in the budget (the study has {params.train.epochs})"
        print(f"{name:>26}: {per_iteration:.3f} s per iteration{epochs}")


def band_runs(refs: dict[str, str], recorded: dict) -> list[dict]:
    """The default's runs of the seed study, one ``{"name", "seed", "commit", "torch_cpu_capability", "values"}``
    per seed: from its finished experiment where this repository has one, else as ``recorded`` (an earlier
    studies/seed_band.json) has it, so that a band outlives the experiments' refs."""
    earlier = {
        run["seed"]: {**run, "values": {key: entry["values"][index] for key, entry in recorded.get("metrics", {}).items()}}
        for index, run in enumerate(recorded.get("runs", []))
    }
    runs = []
    for seed in STUDIES[BAND["study"]]["seeds"]:
        name = f"{BAND['study']}-{BAND['configuration']}-seed{seed}"
        if name not in refs:
            if seed in earlier:
                runs.append(earlier[seed])
            continue
        values = {}
        for path in BAND_FILES:
            shown = subprocess.run(["git", "show", f"{refs[name]}:{path}"], capture_output=True, text=True, check=True).stdout
            for key, value in flatten(json.loads(shown)).items():
                # wall-clock seconds left the outputs after the first runs: no interval for them
                if isinstance(value, (int, float)) and not isinstance(value, bool) and "seconds" not in key:
                    values[f"{path}: {key}"] = value
        environment = json.loads(subprocess.run(["git", "show", f"{refs[name]}:{paths.ENVIRONMENT}"], capture_output=True, text=True, check=True).stdout)
        commit = refs[name].split("/")[2] + refs[name].split("/")[3]
        runs.append({"name": name, "seed": seed, "commit": commit, "torch_cpu_capability": environment["torch_cpu_capability"], "values": values})
    return runs


def write_band() -> Path:
    """studies/seed_band.json: every number of BAND_FILES in each seed of the default (the seed study), from
    the finished experiments and, for seeds without one here, the file's earlier record. What `python -m
    ganyard.verify` builds its prediction intervals from on a machine with other kernels."""
    recorded = json.loads(BAND["path"].read_text(encoding="utf-8")) if BAND["path"].is_file() else {}
    runs = band_runs(experiment_refs(), recorded)
    if len(runs) < MIN_SEEDS:
        have = ", ".join(str(run["seed"]) for run in runs) or "none"
        raise SystemExit(
            f"studies/run.py band: {len(runs)} seeds of the default (seeds {have}); make verify needs {MIN_SEEDS}: run `python studies/run.py {BAND['study']}` first"
        )
    keys = [key for key in runs[0]["values"] if all(key in run["values"] for run in runs)]
    header = {"study": BAND["study"], "configuration": BAND["configuration"]}
    # one line per run and per metric, so that a diff of two bands reads like a table
    text = (
        json.dumps(header, indent=2)[:-2]
        + ',\n  "runs": [\n'
        + ",\n".join(f"    {json.dumps({key: value for key, value in run.items() if key != 'values'})}" for run in runs)
        + '\n  ],\n  "metrics": {\n'
        + ",\n".join(f"    {json.dumps(key)}: {json.dumps({'values': [run['values'][key] for run in runs]})}" for key in keys)
        + "\n  }\n}\n"
    )
    write_text(text, BAND["path"])  # whole or not at all, like every file ganyard writes
    return BAND["path"]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("study", choices=["calibrate", "band", *STUDIES])
    parser.add_argument("--dry", action="store_true", help="print the commands, run nothing")
    parser.add_argument("--curves", action="store_true", help="only draw the figures of the study's finished runs (its quick-FID curves, clocks and grids)")
    parser.add_argument("--seeds", type=int, nargs="+", help="queue only these of the study's seeds")
    parser.add_argument("--runs", nargs="+", metavar="CONFIGURATION", help="queue only these of the study's configurations")
    parser.add_argument("--rounds", type=int, default=3, help="calibrate, --cost: alternating rounds per configuration (default 3)")
    parser.add_argument("--cost", action="store_true", help="only time an iteration of each configuration on this machine, and the epochs of the budget")
    args = parser.parse_args()
    if args.study == "calibrate":
        calibrate(args.rounds)
        return 0
    if args.study == "band":
        path = write_band()
        values = seed_study(path)
        intervals = prediction_intervals(values)
        print(f"wrote {path}: {len(next(iter(values.values())))} seeds; the prediction intervals make verify checks on other kernels:")
        for name, (low, high) in intervals.items():
            print(f"  {name}: {statistics.fmean(values[name]):.4g} ± {statistics.stdev(values[name]):.3g} (sd) -> [{low:.4g}, {high:.4g}]")
        return 0
    if args.cost:
        study_cost(args.study, args.rounds)
        return 0
    if args.curves:
        draw_study(args.study)
        return 0
    return run_study(args.study, args.dry, args.seeds, args.runs)


if __name__ == "__main__":
    sys.exit(main())
