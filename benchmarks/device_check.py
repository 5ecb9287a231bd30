"""One-shot GPU check of the training code paths that CPU runs never reach; prints PASS/FAIL/INFO lines.

What it checks (each subcommand exits 1 when one of its checks FAILs, 0 otherwise):

  determinism  (a) ``distributed.resolve_device``; a tiny GAN (params.yaml's model and train sections
               at width 16, 512 random 1x32x32 images, batch 64, 2 epochs: 16 Algorithm-1 iterations
               with the R1 penalty and the moving average of params.yaml) trained in float32 under the
               train stage's deterministic settings (CUBLAS_WORKSPACE_CONFIG=:4096:8 set before cuBLAS
               starts, ``torch.use_deterministic_algorithms(True, warn_only=<not cpu>)``), twice: losses
               and weights must be finite; whether the two final generators are bit-identical is
               reported (max abs difference), not failed. The loss history is compared with the same run
               on the CPU (max relative difference, expected small, not zero). On CUDA the CPU-only fast
               route of models/image_layers.py must not be taken (counted calls must be 0).
  amp          (b) the same run with ``train.amp`` (bfloat16 autocast): losses finite, every parameter,
               moving-average and Adam state still float32, the generator's convolutions did run in
               bfloat16, the fast route not taken; its difference from float32 is reported, and seconds
               per epoch float32 vs bfloat16 (torch.cuda.synchronize before each clock reading), for the
               tiny run and for params.yaml's full widths.
  torchrun     (c) the tiny training in ``--nproc`` processes under ``python -m torch.distributed.run
               --standalone``, each process doing what stages/train.py does (processes_from_environment,
               resolve_device(device, local_rank), CUBLAS_WORKSPACE_CONFIG, distributed.start,
               share_from_main, pool_batch_norm when several, make_gan, train, distributed.stop). It is
               compared with the single-process run of the same device: the losses must agree to
               LOSS_TOLERANCE (see there); with one process the weights should be bit-identical too
               (WARN, not FAIL, when not: compare a.repeat). One GPU allows
               only world size 1 with NCCL (NCCL refuses two ranks on one GPU), and with world size 1
               ``distributed.start``, ``share_from_main``, ``average`` and ``average_gradients``
               return before touching torch.distributed: so the worker then opens a one-rank process
               group itself (NCCL on CUDA, gloo on CPU) and calls share_from_main, average,
               average_gradients and the pooled batch norm's autograd all-reduce with the world size
               argument forced to 2 (the one rank's sum is then halved, which is what is checked).
               ``--backend gloo`` with ``--device cuda --nproc 2`` runs two processes on the one GPU
               through gloo's CUDA collectives instead (the data-parallel arithmetic on CUDA tensors;
               not a stage configuration, so ``--informational`` makes its failure a WARN).
  tests        (d) the CPU unit tests of these modules (test_distributed, test_models, test_training),
               files whose imports are missing here skipped and tests that run stages/train.py (which
               imports dvclive) deselected when dvclive is missing, each said so; under a time limit.
  cures        (e) every configuration of the mode study (studies/run.py's MODE_CURES: packing, the relativistic
               loss with R1 and R2, minibatch discrimination and stddev, replay, Algorithm 1) on 3-channel random
               images: float32 and bfloat16 on the device, float32 on the CPU; finite losses and weights, and
               float32 state under amp (FAIL otherwise); the difference from the CPU and seconds per epoch (INFO).
  env          versions: python, torch, CUDA, cuDNN, NCCL, the GPU, pydantic.

Run on the GPU machine (benchmarks/device_check.sh runs them all in order):

    PYTHONPATH=src python3 benchmarks/device_check.py determinism --device cuda
    PYTHONPATH=src python3 benchmarks/device_check.py amp --device cuda
    PYTHONPATH=src python3 benchmarks/device_check.py torchrun --device cuda --nproc 1
    PYTHONPATH=src python3 benchmarks/device_check.py torchrun --device cpu --nproc 2
    PYTHONPATH=src python3 benchmarks/device_check.py tests

``--device cpu`` runs every check on the CPU: a dry run of this script itself on a machine without a GPU
(amp then autocasts to bfloat16 on the CPU). Results of the single-process runs are kept in ``--out``
(default /tmp/ganyard_device_check) for the later subcommands to compare with.
"""

from __future__ import annotations

import argparse
import ast
import importlib.util
import math
import os
import signal
import subprocess
import sys
import time
import warnings
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SRC = ROOT / "src"
if str(SRC) not in sys.path:
    sys.path.insert(0, str(SRC))

import torch  # noqa: E402
from torch import nn  # noqa: E402

FAILURES: list[str] = []
WIDTH, IMAGES, IMAGE_SIZE, EPOCHS = 16, 512, 32, 2  # the tiny run
# Largest relative difference of the per-epoch losses between runs that differ only in float round-off.
# Calibrated on the CPU with this tiny run: 2 gloo processes vs 1 process 5e-3, 1 process at 1 thread vs 2
# threads 5e-4; 2 processes without pooled batch norm 3e-2, without averaged gradients 1.5e-1. (Weights
# are no measure here: Adam turns round-off in near-zero gradients into whole steps, so the generators of
# two correct runs differ by up to ~5e-3 per weight.)
LOSS_TOLERANCE = 1e-2


def report(status: str, check: str, text: str) -> None:
    """One result line; FAIL lines make the subcommand exit 1."""
    if status == "FAIL":
        FAILURES.append(check)
    print(f"{status:<4} {check}: {text}", flush=True)


def finish() -> int:
    if FAILURES:
        print(f"FAILED checks: {', '.join(FAILURES)}", flush=True)
        return 1
    return 0


# ---------------------------------------------------------------- the tiny training run


def load_sections():
    """params.yaml's model and train sections (the defaults of ganyard.params if it does not load)."""
    from ganyard.params import ModelParams, Params, TrainParams, load_params

    try:
        params = load_params(ROOT / "params.yaml")
    except Exception as error:  # noqa: BLE001  (the other sections may be mid-edit: the defaults then)
        print(f"note: params.yaml did not load ({error}); using ganyard.params' defaults", flush=True)
        params = Params()
    return params.model, params.train, ModelParams, TrainParams


def make_params(width: int, epochs: int, amp: bool, changes: dict | None = None):
    """params.yaml's model and train sections at ``width``, ``epochs`` and ``amp``, with ``changes`` (dotted
    ``model.*`` and ``train.*`` keys, as a study writes them) over them."""
    from ganyard.profiles import merge, unflatten

    model, train, ModelParams, TrainParams = load_sections()
    sections = {"model": {**model.model_dump(), "generator_width": width, "discriminator_width": width}, "train": train.model_dump()}
    changed = unflatten(changes or {})
    sections = {name: merge(section, changed.get(name, {})) for name, section in sections.items()}  # data.* and sample.* say nothing about training
    model_params = ModelParams(**sections["model"])
    # train.device is only a label here (the networks' device is what counts), but amp: true refuses cpu.
    train_params = TrainParams(**{**sections["train"], "epochs": epochs, "amp": amp, "device": "auto" if amp else "cpu"})
    return model_params, train_params


def deterministic_settings(device: torch.device) -> None:
    """What the train stage sets for ``device``: the cuBLAS workspace (stages/train.py, before cuBLAS starts) and deterministic algorithms (ganyard.training_run)."""
    if device.type == "cuda":
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
    torch.use_deterministic_algorithms(True, warn_only=device.type != "cpu")


def synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


class FastRouteCounter:
    """Counts calls of image_layers' CPU-only matrix-product route (its forward and input-gradient scatter)."""

    def __init__(self):
        from ganyard.models import image_layers

        self.module, self.original, self.calls = image_layers, image_layers._scatter_to_image, 0

    def __enter__(self):
        def counted(*args, **kwargs):
            self.calls += 1
            return self.original(*args, **kwargs)

        self.module._scatter_to_image = counted
        return self

    def __exit__(self, *exc):
        self.module._scatter_to_image = self.original


def float_dtypes(gan) -> list[str]:
    """The dtypes of every floating parameter, buffer, moving-average tensor and Adam state of ``gan``."""
    tensors = [*gan.generator.parameters(), *gan.generator.buffers(), *gan.discriminator.parameters(), *gan.discriminator.buffers()]
    if gan.generator_ema is not None:
        tensors += [*gan.generator_ema.parameters(), *gan.generator_ema.buffers()]
    for optimizer in (gan.generator_optimizer, gan.discriminator_optimizer):
        for state in optimizer.state.values():
            tensors += [value for value in state.values() if torch.is_tensor(value)]
    return sorted({str(t.dtype) for t in tensors if t.is_floating_point()})


def train_tiny(
    device: torch.device,
    amp: bool = False,
    width: int = WIDTH,
    images_count: int = IMAGES,
    epochs: int = EPOCHS,
    processes=None,
    changes: dict | None = None,
    channels: int = 1,
) -> dict:
    """The tiny GAN of tests/distributed_train.py at params.yaml's model (with ``changes``, dotted keys), trained on
    ``device`` on random images of ``channels``; what it ended with."""
    from ganyard import distributed
    from ganyard.models import build_discriminator, build_generator
    from ganyard.training import make_gan, train

    processes = processes or distributed.Processes()
    model, params = make_params(width, epochs, amp, changes)
    deterministic_settings(device)
    images = (torch.rand(images_count, channels, IMAGE_SIZE, IMAGE_SIZE, generator=torch.Generator().manual_seed(5)) * 2 - 1).to(
        device
    )  # resident, as in the stage
    torch.manual_seed(0)
    generator = build_generator(model, channels=channels, image_size=IMAGE_SIZE).to(device)
    discriminator = build_discriminator(model, channels=channels, image_size=IMAGE_SIZE).to(device)
    if processes.world_size > 1:
        generator, discriminator = (distributed.pool_batch_norm(network, device) for network in (generator, discriminator))
    gan = make_gan(generator, discriminator, params, processes)
    initial = {k: v.detach().cpu().clone() for k, v in gan.generator.state_dict().items()}
    conv_dtypes: set[str] = set()
    hooks = [
        layer.register_forward_hook(lambda _m, _i, out: conv_dtypes.add(str(out.dtype)))
        for layer in gan.generator.modules()
        if isinstance(layer, nn.ConvTranspose2d)
    ]
    epoch_ends: list[float] = []
    synchronize(device)
    started = time.perf_counter()

    def on_epoch(epoch, stats):
        synchronize(device)
        epoch_ends.append(time.perf_counter())

    with FastRouteCounter() as fast, warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        history = train(gan, images, params, torch.Generator().manual_seed(1), on_epoch=on_epoch, progress=False)
    for hook in hooks:
        hook.remove()
    seconds = [end - begin for begin, end in zip([started, *epoch_ends], epoch_ends)]
    return {
        "device": str(device),
        "amp": amp,
        "width": width,
        "images": images_count,
        "epochs": epochs,
        "world_size": processes.world_size,
        "generator": {k: v.detach().cpu().clone() for k, v in gan.generator.state_dict().items()},
        "generator_initial": initial,
        "discriminator": {k: v.detach().cpu().clone() for k, v in gan.discriminator.state_dict().items()},
        "losses": [stats.means() for stats in history],
        "epoch_seconds": seconds,
        "fast_route_calls": fast.calls,
        "conv_dtypes": sorted(conv_dtypes),
        "state_dtypes": float_dtypes(gan),
        "warnings": sorted({str(w.message).splitlines()[0][:160] for w in caught}),
        "non_finite_weight": gan.non_finite_weight(),
    }


def max_abs_diff(a: dict, b: dict) -> float:
    return max(((x.double() - b[k].double()).abs().max().item() for k, x in a.items() if x.is_floating_point() and x.numel()), default=0.0)


def bit_identical(a: dict, b: dict) -> bool:
    return a.keys() == b.keys() and all(torch.equal(x, b[k]) for k, x in a.items())


def losses_finite(run: dict) -> bool:
    return all(math.isfinite(v) for epoch in run["losses"] for v in epoch.values())


def loss_rel_diff(a: dict, b: dict) -> float:
    return max(abs(x[k] - y[k]) / max(abs(y[k]), 1e-12) for x, y in zip(a["losses"], b["losses"]) for k in x)


def fmt_losses(run: dict) -> str:
    return "; ".join(f"epoch {i}: D {e['discriminator_loss']:.5f} G {e['generator_loss']:.5f}" for i, e in enumerate(run["losses"], 1))


def timed_run(label: str, check: str, device: torch.device, **kwargs) -> dict | None:
    """``train_tiny`` with a FAIL line (not a traceback that ends the subcommand) when it raises."""
    began = time.perf_counter()
    try:
        run = train_tiny(device, **kwargs)
    except Exception as error:  # noqa: BLE001
        import traceback

        traceback.print_exc()
        report("FAIL", check, f"{label} raised {type(error).__name__}: {error}")
        return None
    print(f"  {label}: {time.perf_counter() - began:.1f} s; {fmt_losses(run)}", flush=True)
    return run


def check_finite(check: str, label: str, run: dict) -> bool:
    ok = losses_finite(run) and run["non_finite_weight"] is None
    report(
        "PASS" if ok else "FAIL",
        check,
        f"{label}: losses and weights finite" if ok else f"{label}: not finite (weight {run['non_finite_weight']}, losses {run['losses']})",
    )
    return ok


def resolve(check: str, name: str):
    from ganyard import distributed

    try:
        device = distributed.resolve_device(name)
    except Exception as error:  # noqa: BLE001
        report("FAIL", check, f"resolve_device({name!r}) raised {type(error).__name__}: {error}")
        return None
    report("PASS", check, f"resolve_device({name!r}) -> {device}" + (f" ({torch.cuda.get_device_name(device)})" if device.type == "cuda" else ""))
    return device


def reference(out: Path, device: torch.device) -> dict | None:
    """The single-process float32 tiny run on ``device``: from ``out`` if the determinism check saved it, else run now."""
    path = out / f"single_{device.type}_fp32.pt"
    if path.exists():
        return torch.load(path, weights_only=True)
    print(f"  ({path} not there: running the single-process reference now)", flush=True)
    run = timed_run(f"reference {device.type} fp32", "reference", device)
    if run is not None:
        out.mkdir(parents=True, exist_ok=True)
        torch.save(run, path)
    return run


# ---------------------------------------------------------------- (a) determinism


def determinism(args) -> int:
    device = resolve("a.resolve_device", args.device)
    if device is None:
        return finish()
    cpu = torch.device("cpu")
    print(f"  tiny run: params.yaml model/train at width {WIDTH}, {IMAGES} random 1x{IMAGE_SIZE}x{IMAGE_SIZE} images, {EPOCHS} epochs", flush=True)
    first = timed_run(f"{device.type} fp32 run 1", "a.train", device)
    if first is None:
        return finish()
    if not check_finite("a.finite", f"{device.type} fp32", first):
        return finish()
    print(
        f"  CUBLAS_WORKSPACE_CONFIG={os.environ.get('CUBLAS_WORKSPACE_CONFIG')}; "
        f"use_deterministic_algorithms={torch.are_deterministic_algorithms_enabled()}, warn_only={torch.is_deterministic_algorithms_warn_only_enabled()}",
        flush=True,
    )
    for message in first["warnings"]:
        print(f"  warning during the run: {message}", flush=True)
    args.out.mkdir(parents=True, exist_ok=True)
    torch.save(first, args.out / f"single_{device.type}_fp32.pt")
    if device.type == "cuda":
        ok = first["fast_route_calls"] == 0
        report("PASS" if ok else "FAIL", "a.image_layers", f"CPU-only fast route calls on cuda: {first['fast_route_calls']} (must be 0: the torch layers ran)")
    else:
        report("INFO", "a.image_layers", f"fast route calls on the CPU: {first['fast_route_calls']} (taken there by design)")
    second = timed_run(f"{device.type} fp32 run 2", "a.train", device)
    if second is not None and check_finite("a.finite", f"{device.type} fp32 run 2", second):
        same = bit_identical(first["generator"], second["generator"]) and bit_identical(first["discriminator"], second["discriminator"])
        report(
            "INFO",
            "a.repeat",
            f"two {device.type} fp32 runs bit-identical: {same}; generator max abs diff {max_abs_diff(first['generator'], second['generator']):.3e}, "
            f"discriminator {max_abs_diff(first['discriminator'], second['discriminator']):.3e}, losses max rel diff {loss_rel_diff(first, second):.3e}",
        )
    on_cpu = first if device.type == "cpu" else timed_run("cpu fp32 run", "a.train", cpu)
    if on_cpu is not None and check_finite("a.finite", "cpu fp32", on_cpu):
        if device.type != "cpu":
            torch.save(on_cpu, args.out / "single_cpu_fp32.pt")
        difference = loss_rel_diff(first, on_cpu)
        note = "" if difference < 0.05 else " (large for 16 steps: look into it)"
        report(
            "INFO",
            "a.vs_cpu",
            f"{device.type} vs cpu: losses max rel diff {difference:.3e}{note}; generator max abs diff {max_abs_diff(first['generator'], on_cpu['generator']):.3e}",
        )
    return finish()


# ---------------------------------------------------------------- (b) amp


def amp(args) -> int:
    device = resolve("b.resolve_device", args.device)
    if device is None:
        return finish()
    fp32 = reference(args.out, device)
    bf16 = timed_run(f"{device.type} amp (bfloat16 autocast) run", "b.train", device, amp=True)
    if bf16 is None or not check_finite("b.finite", f"{device.type} amp", bf16):
        return finish()
    ok = bf16["state_dtypes"] == ["torch.float32"]
    report("PASS" if ok else "FAIL", "b.float32_state", f"parameters, buffers, EMA and Adam states: {bf16['state_dtypes']} (must be only float32)")
    ok = "torch.bfloat16" in bf16["conv_dtypes"]
    report("PASS" if ok else "FAIL", "b.autocast", f"generator transposed-convolution outputs: {bf16['conv_dtypes']} (bfloat16 expected)")
    ok = bf16["fast_route_calls"] == 0
    report("PASS" if ok else "FAIL", "b.image_layers", f"CPU-only fast route calls under autocast: {bf16['fast_route_calls']} (must be 0)")
    for message in bf16["warnings"]:
        print(f"  warning during the run: {message}", flush=True)
    if fp32 is not None:
        report(
            "INFO",
            "b.vs_fp32",
            f"amp vs fp32: losses max rel diff {loss_rel_diff(bf16, fp32):.3e}; generator max abs diff {max_abs_diff(bf16['generator'], fp32['generator']):.3e}",
        )
    # Seconds per epoch; the first epoch (cuDNN and allocator warm-up) left out when there are more.
    images = args.timing_images if args.timing_images is not None else (4096 if device.type == "cuda" else 512)
    full_width = load_sections()[0].generator_width
    configs = [("tiny", {}), (f"params.yaml width {full_width}, {images} images", {"width": full_width, "images_count": images, "epochs": 3})]
    for name, kwargs in configs:
        seconds = {}
        for label, use_amp in (("fp32", False), ("bf16", True)):
            run = (
                fp32
                if (not kwargs and not use_amp)
                else bf16
                if (not kwargs and use_amp)
                else timed_run(f"timing {name} {label}", "b.timing", device, amp=use_amp, **kwargs)
            )
            if run is None:
                continue
            later = run["epoch_seconds"][1:] or run["epoch_seconds"]
            seconds[label] = sum(later) / len(later)
        if len(seconds) == 2:
            report(
                "INFO",
                "b.timing",
                f"{name}: s/epoch fp32 {seconds['fp32']:.3f}, bf16 {seconds['bf16']:.3f} (bf16/fp32 = {seconds['bf16'] / seconds['fp32']:.2f})",
            )
    return finish()


# ---------------------------------------------------------------- (c) torchrun


def launch(command: list[str], timeout: float, env: dict) -> tuple[int, str]:
    """Run ``command`` in its own process group; on timeout kill the whole group (torchrun's workers too).

    The time is cut to 10 s less than DEVICE_CHECK_STEP_LIMIT (device_check.sh's limit for the step), so that
    this kill, not the shell's (which would miss the group), ends what runs too long.
    """
    timeout = max(5.0, min(timeout, float(os.environ.get("DEVICE_CHECK_STEP_LIMIT", "inf")) - 10))
    process = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True)
    try:
        output, _ = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        output, _ = process.communicate()
        return 124, output + f"\n(killed after {timeout:.0f} s)"
    return process.returncode, output


def torchrun(args) -> int:
    device = resolve("c.resolve_device", args.device)
    if device is None:
        return finish()
    backend = args.backend or ("nccl" if device.type == "cuda" else "gloo")
    check = f"c.torchrun[{device.type},{backend},nproc={args.nproc}]"
    fail = "WARN" if args.informational else "FAIL"
    if device.type == "cuda" and backend == "nccl" and args.nproc > torch.cuda.device_count():
        report(
            fail, check, f"{args.nproc} NCCL processes need {args.nproc} GPUs, torch sees {torch.cuda.device_count()} (NCCL cannot put two ranks on one GPU)"
        )
        return finish()
    if device.type == "cuda" and backend == "nccl" and args.nproc == 1:
        print(
            "  one GPU: NCCL world size 1 (NCCL refuses two ranks on one GPU). distributed.start() opens no group at world size 1;"
            " the worker opens a one-rank NCCL group afterwards for the collectives' smoke test.",
            flush=True,
        )
    args.out.mkdir(parents=True, exist_ok=True)
    result_path = args.out / f"torchrun_{device.type}_{backend}_{args.nproc}.pt"
    result_path.unlink(missing_ok=True)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(SRC), *filter(None, [os.environ.get("PYTHONPATH")])])}
    if device.type == "cpu" and args.nproc > 1:
        env.setdefault("OMP_NUM_THREADS", "1")  # as tests/test_distributed.py: the processes share the cores (one process keeps the reference's threads)
    command = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--standalone",
        f"--nproc_per_node={args.nproc}",
        str(Path(__file__).resolve()),
        "worker",
        "--device",
        args.device,
        "--backend",
        backend,
        "--result",
        str(result_path),
    ]
    began = time.perf_counter()
    code, output = launch(command, args.timeout, env)
    print("\n".join(f"  | {line}" for line in output.strip().splitlines()[-60:]), flush=True)
    if code != 0 or not result_path.exists():
        report(fail, check, f"torchrun exited {code} after {time.perf_counter() - began:.1f} s" + ("" if result_path.exists() else ", no result written"))
        return finish()
    result = torch.load(result_path, weights_only=True)
    report("PASS", check, f"finished in {time.perf_counter() - began:.1f} s; process group: {result['backend']}; shared from main: {result['shared_ok']}")
    for status, name, text in result["smoke"]:
        report(fail if status == "FAIL" else status, f"c.{name}", text)
    run = result["run"]
    if not check_finite(f"c.finite[{backend}]", f"torchrun {device.type} nproc {args.nproc}", run):
        return finish()
    single = reference(args.out, device)
    if single is not None:
        same = bit_identical(run["generator"], single["generator"]) and bit_identical(run["discriminator"], single["discriminator"])
        difference = loss_rel_diff(run, single)
        if difference > LOSS_TOLERANCE:
            status = fail
        elif args.nproc == 1 and not same:
            status = "WARN"  # one process runs the same code as the single run: only nondeterministic kernels differ (see a.repeat)
        else:
            status = "PASS"
        expected = "bit-identical expected" if args.nproc == 1 else "round-off expected"
        report(
            status,
            f"c.same_generator[{backend},nproc={args.nproc}]",
            f"vs the single-process {device.type} run ({expected}): bit-identical {same}; generator max abs diff {max_abs_diff(run['generator'], single['generator']):.3e}, "
            f"discriminator {max_abs_diff(run['discriminator'], single['discriminator']):.3e}; losses max rel diff {difference:.3e} (must be <= {LOSS_TOLERANCE:g})",
        )
    return finish()


def worker(args) -> int:
    """One torchrun process: the train stage's sequence around the tiny run (stages/train.py main and train_on)."""
    import torch.distributed as dist

    from ganyard import distributed

    processes = distributed.processes_from_environment()
    gloo_on_gpus = args.backend == "gloo" and args.device == "cuda" and processes.world_size > 1
    # Several processes sharing the GPUs there are (not a stage configuration: resolve_device refuses a process without a GPU of its own).
    local_rank = processes.local_rank % max(torch.cuda.device_count(), 1) if gloo_on_gpus else processes.local_rank
    device = distributed.resolve_device(args.device, local_rank)
    if device.type == "cuda":
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
    if gloo_on_gpus:
        torch.cuda.set_device(device)
        dist.init_process_group("gloo")  # gloo's CUDA collectives; distributed.start (which would pick NCCL) then finds the group open
    distributed.start(processes, device)
    try:
        backend = dist.get_backend() if dist.is_initialized() else "none (world size 1: distributed.start opens no group)"
        decided = {"resume": None, "from_rank": 0}
        shared = distributed.share_from_main(decided if processes.is_main else None, processes, device)
        run = train_tiny(device, processes=processes)
        smoke = collectives_smoke(device) if processes.world_size == 1 else []
        if processes.is_main:
            torch.save({"backend": backend, "shared_ok": shared == decided, "run": run, "smoke": smoke}, args.result)
    finally:
        distributed.stop()
    print(f"rank {processes.rank}/{processes.world_size} on {device}: done", flush=True)
    return 0


def collectives_smoke(device: torch.device) -> list[tuple[str, str, str]]:
    """The library's collectives on a one-rank group (NCCL on CUDA, gloo on CPU), world size argument forced to 2."""
    import torch.distributed as dist

    from ganyard import distributed
    from ganyard.distributed import PooledBatchNorm, Processes, _SumOverProcesses

    backend = "nccl" if device.type == "cuda" else "gloo"
    results = []
    try:
        dist.init_process_group(backend, **({"device_id": device} if device.type == "cuda" else {}))
    except Exception as error:  # noqa: BLE001
        return [("FAIL", f"{backend}.init", f"init_process_group({backend!r}) with one rank raised {type(error).__name__}: {error}")]
    name = f"{backend}.smoke"
    try:
        value = {"resume": "models/checkpoints/last.pt", "epoch": 3}
        shared = distributed.share_from_main(value, Processes(0, 2, 0), device)
        results.append(("PASS" if shared == value else "FAIL", f"{name}.share_from_main", f"broadcast_object_list(device={device}) gave {shared!r}"))
        averaged = distributed.average(torch.tensor([2.0, 4.0, -6.0], device=device), 2)
        ok = averaged.device == device and averaged.tolist() == [1.0, 2.0, -3.0]
        results.append(("PASS" if ok else "FAIL", f"{name}.average", f"all_reduce on {averaged.device}, one rank / 2: {averaged.tolist()} (expect [1, 2, -3])"))
        layer = nn.Linear(3, 2).to(device)
        layer(torch.ones(4, 3, device=device)).square().sum().backward()
        before = [p.grad.clone() for p in layer.parameters()]
        distributed.average_gradients(layer, 2)
        ok = all(torch.equal(p.grad, g / 2) for p, g in zip(layer.parameters(), before))
        results.append(("PASS" if ok else "FAIL", f"{name}.average_gradients", f"flattened all_reduce of {len(before)} gradients, halved: {ok}"))
        x = torch.randn(5, device=device, requires_grad=True)
        (gradient,) = torch.autograd.grad(_SumOverProcesses.apply(x).pow(3).sum(), x, create_graph=True)
        gradient.sum().backward()  # the second derivative, through the all-reduce's own backward
        ok = torch.allclose(gradient, 3 * x.detach() ** 2) and torch.allclose(x.grad, 6 * x.detach())
        results.append(("PASS" if ok else "FAIL", f"{name}.sum_over_processes", f"autograd-aware all_reduce, first and second derivatives right: {ok}"))
        pooled = distributed.pool_batch_norm(nn.Sequential(nn.BatchNorm2d(3)), device)
        ok = isinstance(pooled[0], PooledBatchNorm) and pooled[0].weight.device == device
        results.append(("PASS" if ok else "FAIL", f"{name}.pool_batch_norm", f"BatchNorm2d replaced by PooledBatchNorm on {pooled[0].weight.device}: {ok}"))
    except Exception as error:  # noqa: BLE001
        results.append(("FAIL", name, f"raised {type(error).__name__}: {error}"))
    return results


# ---------------------------------------------------------------- (d) tests

TEST_FILES = ["tests/test_distributed.py", "tests/test_models.py", "tests/test_training.py"]
# Tests that run a stage script, whose imports the test file's own imports do not show.
NEEDS = {"tests/test_distributed.py::test_the_train_stage_names_a_missing_gpu_before_reading_anything": "stages/train.py"}


def missing_imports(path: Path) -> list[str]:
    """Top-level modules ``path`` imports (anywhere in it) that cannot be found here."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return sorted(name for name in names if importlib.util.find_spec(name) is None)


def tests(args) -> int:
    files, deselect = [], []
    for name in TEST_FILES:
        missing = missing_imports(ROOT / name) if (ROOT / name).exists() else ["(file missing)"]
        if missing:
            report("INFO", "d.skip", f"{name}: needs {', '.join(missing)}, not installed here")
        else:
            files.append(name)
    for test, script in NEEDS.items():
        missing = missing_imports(ROOT / script)
        if test.split("::")[0] in files and missing:
            deselect.append(test)
            report("INFO", "d.deselect", f"{test}: runs {script}, which imports {', '.join(missing)} (not installed here)")
    # tests/test_distributed.py starts its processes with PYTHONPATH=src alone: packages reached only through
    # PYTHONPATH (the wheels of .whl in /tmp/site) are then missing there (device_check.sh adds a .pth for them).
    probe = subprocess.run([sys.executable, "-c", "import pydantic, yaml, tqdm"], env={**os.environ, "PYTHONPATH": str(SRC)}, capture_output=True, text=True)
    if "tests/test_distributed.py" in files and probe.returncode != 0:
        test = "tests/test_distributed.py::test_two_processes_with_gloo_train_like_one_process_at_the_same_global_batch"
        deselect.append(test)
        report(
            "INFO",
            "d.deselect",
            f"{test}: its subprocesses (PYTHONPATH=src) cannot import {probe.stderr.strip().splitlines()[-1]}; c.torchrun[cpu,gloo,nproc=2] covers it",
        )
    if not files:
        report("FAIL", "d.tests", "no test file can be imported")
        return finish()
    command = [sys.executable, "-m", "pytest", "-q", "-x", "-p", "no:cacheprovider", *files, *[f"--deselect={t}" for t in deselect]]
    if importlib.util.find_spec("xdist") is not None and args.workers > 1:
        command += ["-n", str(args.workers)]
    print(f"  {' '.join(command[1:])}", flush=True)
    began = time.perf_counter()
    code, output = launch(command, args.timeout, {**os.environ, "PYTHONPATH": os.pathsep.join([str(SRC), *filter(None, [os.environ.get("PYTHONPATH")])])})
    print("\n".join(f"  | {line}" for line in output.strip().splitlines()[-40:]), flush=True)
    report("PASS" if code == 0 else "FAIL", "d.tests", f"pytest exited {code} in {time.perf_counter() - began:.1f} s")
    return finish()


# ---------------------------------------------------------------- env


def env(args) -> int:
    print(
        f"python {sys.version.split()[0]}; torch {torch.__version__}; CUDA (build) {torch.version.cuda}; cuda available {torch.cuda.is_available()}", flush=True
    )
    if torch.cuda.is_available():
        print(
            f"GPUs {torch.cuda.device_count()}: {[torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())]}; "
            f"capability {torch.cuda.get_device_capability(0)}; bf16 supported {torch.cuda.is_bf16_supported()}",
            flush=True,
        )
        try:
            nccl = ".".join(map(str, torch.cuda.nccl.version())) if torch.distributed.is_nccl_available() else "unavailable"
        except Exception as error:  # noqa: BLE001
            nccl = f"? ({error})"
        print(f"cuDNN {torch.backends.cudnn.version()}; NCCL {nccl}", flush=True)
    print(f"threads {torch.get_num_threads()}; gloo {torch.distributed.is_gloo_available()}", flush=True)
    for name in ("pydantic", "pydantic_core", "typing_extensions", "yaml", "tqdm", "numpy", "xdist", "dvclive", "dvc"):
        spec = importlib.util.find_spec(name)
        version = ""
        if spec is not None:
            try:
                version = getattr(__import__(name), "__version__", "")
            except Exception as error:  # noqa: BLE001
                version = f"(import fails: {error})"
        where = "" if spec is None else f" at {Path(spec.origin or '?').parent}"
        print(f"  {name}: {'missing' if spec is None else version or 'present'}{where}", flush=True)
    try:
        import ganyard.training  # noqa: F401  (the library's training import chain)

        report("PASS", "env.import", "ganyard.training, ganyard.distributed, ganyard.params import")
    except Exception as error:  # noqa: BLE001
        report("FAIL", "env.import", f"ganyard.training does not import: {type(error).__name__}: {error}")
    return finish()


# ---------------------------------------------------------------- (e) the cures of mode collapse


def mode_cures() -> dict[str, dict]:
    """The configurations of studies/run.py's mode study (name -> its dotted changes), read from that file so that
    the GPU checks what the study runs."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("ganyard_studies_run", ROOT / "studies" / "run.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return {name: changes for name, (changes, *_epochs) in module.MODE_CURES.items()}


def cures(args) -> int:
    """Every configuration of the mode study (packing, the relativistic loss with R1 and R2, minibatch
    discrimination and stddev, replay, Algorithm 1) on 3-channel images: float32 and bfloat16 on ``--device``,
    float32 on the CPU. Losses and weights must be finite, and under amp every parameter, moving average and Adam
    state float32; the float32 losses' difference from the CPU's and the seconds per epoch are reported."""
    device = resolve("e.resolve_device", args.device)
    if device is None:
        return finish()
    cpu = torch.device("cpu")
    for name, changes in mode_cures().items():
        print(f"  {name}: {changes or 'the default'}", flush=True)
        common = {"changes": changes, "channels": 3}
        runs = {"fp32": timed_run(f"{name} {device.type} fp32", f"e.{name}", device, **common)}
        runs["amp"] = timed_run(f"{name} {device.type} amp", f"e.{name}", device, amp=True, **common) if device.type == "cuda" else None
        runs["cpu"] = timed_run(f"{name} cpu fp32", f"e.{name}", cpu, **common) if device.type != "cpu" else runs["fp32"]
        for label, run in runs.items():
            if run is not None:
                check_finite(f"e.{name}.finite", label, run)
        if runs["amp"] is not None:
            dtypes = runs["amp"]["state_dtypes"]
            report("PASS" if dtypes == ["torch.float32"] else "FAIL", f"e.{name}.amp_state", f"parameters, averages and Adam state under amp: {dtypes}")
        if runs["fp32"] is not None and runs["cpu"] is not None and losses_finite(runs["fp32"]) and losses_finite(runs["cpu"]):
            seconds = {label: f"{run['epoch_seconds'][-1]:.3f}" for label, run in runs.items() if run is not None}
            report(
                "INFO",
                f"e.{name}.cpu",
                f"{device.type} fp32 vs cpu fp32 losses max rel diff {loss_rel_diff(runs['fp32'], runs['cpu']):.2e}; seconds per epoch {seconds}",
            )
    return finish()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    for name in ("env", "determinism", "amp", "torchrun", "worker", "tests", "cures"):
        sub = commands.add_parser(name)
        sub.add_argument("--device", default="cuda", choices=["cuda", "cpu"], help="cpu: a dry run of the checks on the CPU")
        sub.add_argument("--out", type=Path, default=Path("/tmp/ganyard_device_check"), help="where the single-process runs are kept")
        sub.add_argument("--timeout", type=float, default=150.0, help="seconds for torchrun or pytest")
        if name == "amp":
            sub.add_argument("--timing-images", type=int, default=None, help="images of the full-width timing run (4096 on cuda, 512 on cpu)")
        if name in ("torchrun", "worker"):
            sub.add_argument("--nproc", type=int, default=1)
            sub.add_argument("--backend", choices=["nccl", "gloo"], default=None, help="default: nccl on cuda, gloo on cpu")
            sub.add_argument("--informational", action="store_true", help="report failures as WARN and exit 0")
            sub.add_argument("--result", type=Path, default=None)
        if name == "tests":
            sub.add_argument("--workers", type=int, default=min(6, os.cpu_count() or 1), help="pytest-xdist workers when installed")
    args = parser.parse_args()
    return {"env": env, "determinism": determinism, "amp": amp, "torchrun": torchrun, "worker": worker, "tests": tests, "cures": cures}[args.command](args)


if __name__ == "__main__":
    sys.exit(main())
