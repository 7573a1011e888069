"""Speed and memory of a training step, as ratios measured in one run: this project's fast and
reference pipelines and the authors' own train() (baselines/official.py) on the same model,
data, batch and threads, each measurement in a fresh worker process (so its peak memory is its
own), beside the machine's fp32 GEMM peak. scripts/benchmark.py is the command line (its
docstring says how a measurement is made); scripts/gpu_check.py uses the same functions."""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "scripts" / "benchmark.py"  # what a worker process runs (with --worker)
PIPELINES = ("reference", "fast", "fast_bf16")
# The command line's defaults: settings() fills a namespace with them for callers in code.
DEFAULTS = {
    "models": "mnist,cifar10,cifar100",
    "pipelines": ",".join(PIPELINES),
    "steps": 30,
    "repeats": 1,
    "warmup": 5,
    "data_root": "data",
    "workers": 0,
    "device": "auto",
    "threads": None,
    "no_official": False,
    "worker_timeout": None,
    "json": False,
    "worker": None,
}


def settings(**overrides) -> argparse.Namespace:
    """The options of a benchmark, as the command line would give them."""
    unknown = set(overrides) - set(DEFAULTS)
    if unknown:
        raise TypeError(f"unknown benchmark setting(s) {sorted(unknown)}")
    return argparse.Namespace(**{**DEFAULTS, **overrides})


MODELS = {  # benchmark name -> (paper config, training-set size)
    "mnist": ("configs/mnist/sym/nce+rce.yaml", 60000),
    "cifar10": ("configs/cifar10/sym/nce+rce.yaml", 50000),
    "cifar100": ("configs/cifar100/sym/nce+rce.yaml", 50000),
}


def measure_official(model_key: str, steps: int, warmup: int, data_root: str, workers: int) -> dict:
    """Runs in a worker subprocess: time `steps` of the authors' own training steps."""
    import torch

    from baselines import official
    from engine.experiment import load_config

    cfg = load_config(ROOT / MODELS[model_key][0])
    try:
        seconds = official.time_training_steps(cfg, Path(data_root), warmup, steps, workers)
    except official.ReferenceMissing as e:
        return {"skipped": str(e)}
    batch = cfg["train.batch_size"]
    return {
        "images_per_s": steps * batch / seconds,
        "step_ms": 1000 * seconds / steps,
        "epoch_s": MODELS[model_key][1] * seconds / (steps * batch),
        "peak_mem_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "device": f"{'cuda' if torch.cuda.is_available() else 'cpu'} "
        f"({torch.get_num_threads()} threads)",
    }


def benchmark_data(cfg: dict, data_root: str, model_key: str):
    """(the dataset's arrays, "real"), or synthetic images of its shape where it is absent."""
    import numpy as np
    import torch

    from datasets import DATASETS, DatasetError
    from datasets.base import DatasetArrays
    from engine.experiment import load_data

    spec = DATASETS[cfg["dataset.name"]]
    try:
        return load_data(cfg, data_root), "real"
    except DatasetError:
        n = MODELS[model_key][1]
        g = torch.Generator().manual_seed(0)
        shape = (n, spec.in_channels, spec.image_size, spec.image_size)
        return DatasetArrays(
            name=spec.name,
            train_images=torch.randint(0, 256, shape, dtype=torch.uint8, generator=g),
            train_labels=np.arange(n) % spec.num_classes,
            test_images=torch.zeros((1,) + shape[1:], dtype=torch.uint8),
            test_labels=np.zeros(1, dtype=np.int64),
            num_classes=spec.num_classes,
            mean=spec.mean,
            std=spec.std,
            augment=spec.augment,
            class_names=None,
            source="synthetic",
            spec=spec,
        ), "synthetic"


def timed_steps(step, source_data, labels, batch: int, warmup: int, steps: int, device):
    """(seconds for `steps` training steps after `warmup` untimed ones, the FLOPs to train one
    image); `step` = (model, criterion, optimizer, scaler, amp, max_norm), as train.py steps."""
    import torch

    from engine.runtime import epoch_generator
    from engine.step import backward, forward, optimizer_step

    model, criterion, optimizer, scaler, amp, max_norm = step

    def batches():
        epoch = 0
        while True:
            yield from source_data.train_batches(batch, epoch_generator(0, epoch))
            epoch += 1

    it = batches()
    flops = train_flops_per_image(model, next(batches())[0])
    sync = synchronizer(device)
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats()
    for i in range(warmup + steps):
        if i == warmup:
            sync()
            start = time.perf_counter()
        x, index = next(it)
        _, loss, _ = forward(model, criterion, x, labels[index], amp)
        backward(loss, model, optimizer, scaler, max_norm)
        optimizer_step(optimizer, scaler)
    sync()
    return time.perf_counter() - start, flops


def measure(
    model_key: str,
    pipeline: str,
    steps: int,
    warmup: int,
    data_root: str,
    workers: int,
    device_name: str,
) -> dict:
    """Runs in a worker subprocess: time `steps` training steps of one pipeline."""
    import torch

    from datasets import make_data_source
    from engine.experiment import build_criteria, build_network, load_config
    from engine.optim import build_optimizer
    from engine.runtime import pick_device

    fast = pipeline.startswith("fast")
    channels_last = fast
    # the model and loss that train.py builds, with this pipeline's memory format
    cfg = load_config(
        ROOT / MODELS[model_key][0],
        overrides={"train.channels_last": "on" if channels_last else "off"},
    )
    device = pick_device(device_name)
    data, source = benchmark_data(cfg, data_root, model_key)
    amp = "bf16" if pipeline == "fast_bf16" or (fast and device.type == "cuda") else "none"
    torch.manual_seed(0)
    model = build_network(cfg, data, device)
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = True
    criterion = build_criteria(cfg, data.num_classes, data.train_labels, device, model)[1]
    optimizer = build_optimizer(model, cfg)
    scaler = torch.amp.GradScaler(device.type, enabled=False)
    images = data.train_images
    source_data = make_data_source(
        "fast" if fast else "reference", images, data, data.augment, device, channels_last, workers
    )
    labels = torch.from_numpy(data.train_labels).to(device)
    batch = cfg["train.batch_size"]
    model.train()
    step = (model, criterion, optimizer, scaler, amp, cfg["optim.grad_clip"])
    seconds, flops = timed_steps(step, source_data, labels, batch, warmup, steps, device)
    images_per_s = steps * batch / seconds
    peak = (
        torch.cuda.max_memory_allocated() / 2**20
        if device.type == "cuda"
        else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    )
    return {
        "images_per_s": images_per_s,
        "step_ms": 1000 * seconds / steps,
        "epoch_s": MODELS[model_key][1] / images_per_s,
        "peak_mem_mib": peak,
        "peak_mem_kind": "cuda max allocated" if device.type == "cuda" else "process max RSS",
        "amp": amp,
        "channels_last": channels_last,
        "data": source,
        "train_flops_per_image": flops,
        "device": torch.cuda.get_device_name(device)
        if device.type == "cuda"
        else f"cpu ({torch.get_num_threads()} threads)",
    }


class WorkerFailed(RuntimeError):
    """A measurement subprocess failed or ran past --worker-timeout."""


def synchronizer(device):
    """Waits for the device's queued work (CUDA runs asynchronously; the CPU does not)."""
    import torch

    return torch.cuda.synchronize if device.type == "cuda" else (lambda: None)


def run_worker(args, model_key, pipeline) -> dict:
    cmd = [
        sys.executable,
        str(SCRIPT),
        "--worker",
        model_key,
        pipeline,
        "--steps",
        str(args.steps),
        "--warmup",
        str(args.warmup),
        "--data-root",
        args.data_root,
        "--workers",
        str(args.workers),
        "--device",
        args.device,
    ]
    if args.threads:
        cmd += ["--threads", str(args.threads)]
    try:
        done = subprocess.run(
            cmd, capture_output=True, text=True, cwd=ROOT, timeout=args.worker_timeout
        )
    except subprocess.TimeoutExpired:
        raise WorkerFailed(
            f"benchmark worker ({model_key}, {pipeline}) ran past "
            f"{args.worker_timeout:.0f} s; give it more time or fewer --steps"
        ) from None
    if done.returncode != 0:
        raise WorkerFailed(
            f"benchmark worker failed ({model_key}, {pipeline}):\n{done.stderr[-2000:]}"
        )
    return json.loads(done.stdout.strip().splitlines()[-1])


# ---- this machine's fp32 peak, and each model's share of it ---------------------------------


def gemm_peak(device_name: str, size: int = 2048, repeats: int = 5) -> dict:
    """fp32 GFLOP/s of a size x size matmul, best of `repeats` after one warm-up: the practical
    peak of this machine (CPUs here differ: with and without AVX-512), the yardstick for the
    models' throughput."""
    import torch

    from engine.runtime import pick_device

    device = pick_device(device_name)
    a, b = (torch.randn(size, size, device=device) for _ in range(2))
    sync = synchronizer(device)
    best = float("inf")
    for _ in range(repeats + 1):
        sync()
        start = time.perf_counter()
        a @ b
        sync()
        best = min(best, time.perf_counter() - start)
    return {
        "gflops": 2 * size**3 / best / 1e9,
        "size": size,
        "best_of": repeats,
        "threads": torch.get_num_threads(),
        "device": str(device),
        "tf32": device.type == "cuda" and torch.backends.cuda.matmul.allow_tf32,
    }


def forward_macs(model, x) -> int:
    """Multiply-accumulates of one forward pass over batch x, counted by hooks on every
    convolution and linear layer (the layers that hold nearly all of the FLOPs)."""
    import torch

    macs = []

    def conv(module, inputs, out):
        kernel = module.weight[0].numel()  # in_channels / groups x kh x kw
        macs.append(out.numel() * kernel)

    def linear(module, inputs, out):
        macs.append(out.numel() * module.in_features)

    hooks = [
        m.register_forward_hook(conv if isinstance(m, torch.nn.modules.conv._ConvNd) else linear)
        for m in model.modules()
        if isinstance(m, (torch.nn.modules.conv._ConvNd, torch.nn.Linear))
    ]
    was_training = model.training
    model.eval()  # no BatchNorm statistics update from the counting pass
    try:
        with torch.no_grad():
            model(x)
    finally:
        model.train(was_training)
        for h in hooks:
            h.remove()
    return sum(macs)


def train_flops_per_image(model, x) -> float:
    """Training FLOPs of one image: forward 2 x MACs, backward about twice the forward."""
    return 3 * 2 * forward_macs(model, x) / len(x)


def native_bf16_cpu() -> bool:
    """True when the CPU has bf16 instructions (avx512_bf16 or AMX); without them bf16
    autocast on the CPU is emulated in fp32 and expected to be slower than fp32."""
    try:
        flags = Path("/proc/cpuinfo").read_text()
    except OSError:
        return False
    return any(f in flags.split() for f in ("avx512_bf16", "amx_bf16"))


def bf16_note(device: str) -> str | None:
    if "cpu" not in device or native_bf16_cpu():
        return None
    return (
        "note: this CPU has no native bf16 (no avx512_bf16/amx_bf16 flag): bf16 autocast "
        "is emulated and expected to be slower than fp32 here"
    )


def peak_fraction(images_per_s: float, flops_per_image: float, peak: dict) -> float:
    return images_per_s * flops_per_image / (peak["gflops"] * 1e9)


# ---- the table ---------------------------------------------------------------------------------


def benchmark_model(args, model_key: str, peak: dict) -> dict:
    """Every pipeline of --pipelines and the authors' step for one model: its report row."""
    if model_key not in MODELS:
        raise SystemExit(f"unknown model key {model_key!r}; choose from {list(MODELS)}")
    rows, official = measure_interleaved(args, model_key)
    first = next(iter(rows.values()))
    flops = first["train_flops_per_image"]
    row = {
        "model": load_model_name(model_key),
        "data": first["data"],
        "device": first["device"],
        "steps": args.steps,
        "repeats": args.repeats,
        "train_gflop_per_image": flops / 1e9,
        "images_per_s_spread": {k: v["spread"] for k, v in rows.items()},
        "images_per_s": {k: v["images_per_s"] for k, v in rows.items()},
        "epoch_s": {k: v["epoch_s"] for k, v in rows.items()},
        "peak_mem_mib": {k: v["peak_mem_mib"] for k, v in rows.items()},
        "peak_mem_kind": first["peak_mem_kind"],
        "gemm_peak_fraction": {
            k: peak_fraction(v["images_per_s"], flops, peak) for k, v in rows.items()
        },
    }
    if "reference" in rows:
        row["ratio_vs_reference"] = {
            k: v["images_per_s"] / rows["reference"]["images_per_s"] for k, v in rows.items()
        }
    row.update(official_fields(official, rows, flops, peak))
    return row


def measure_interleaved(args, model_key: str):
    """Every pipeline once per round, --repeats rounds: a shared machine's load drifts, and
    interleaving spreads it over all pipelines alike. Each pipeline keeps its median round
    (by images/s), with the spread of all rounds."""
    rounds = []
    for _ in range(args.repeats):
        row = {pipe: run_worker(args, model_key, pipe) for pipe in args.pipelines.split(",")}
        row["official"] = official_row(args, model_key, next(iter(row.values()))["data"])
        rounds.append(row)
    chosen = {pipe: median_round([r[pipe] for r in rounds]) for pipe in rounds[0]}
    official = chosen.pop("official")
    return chosen, official


def median_round(results: list[dict]) -> dict:
    if "skipped" in results[0]:
        return results[0]
    ordered = sorted(results, key=lambda r: r["images_per_s"])
    speeds = [r["images_per_s"] for r in ordered]
    return {**ordered[len(ordered) // 2], "spread": [speeds[0], speeds[-1]]}


def print_row(model_key: str, r: dict) -> None:
    print(
        f"{model_key:9s} {r['model']:9s} [{r['data']} data, {r['device']}, {r['steps']} steps, "
        f"median of {r['repeats']} interleaved rounds, {r['train_gflop_per_image']:.3f} "
        f"GFLOP/image to train]"
    )
    for pipe, speed in r["images_per_s"].items():
        ratio = r.get("ratio_vs_reference", {}).get(pipe)
        print(
            f"  {pipe:9s} {speed:8.0f} img/s  epoch {r['epoch_s'][pipe]:7.1f} s  peak "
            f"{r['peak_mem_mib'][pipe]:6.0f} MiB  {r['gemm_peak_fraction'][pipe]:6.1%} of GEMM "
            f"peak" + (f"  ratio {ratio:.2f}x" if ratio and pipe != "reference" else "")
        )
    print(official_line(r), flush=True)


def worker(args) -> dict:
    if args.threads:
        import torch

        torch.set_num_threads(args.threads)
    model_key, pipeline = args.worker
    if pipeline == "gemm":
        return gemm_peak(args.device)
    if pipeline == "official":
        return measure_official(model_key, args.steps, args.warmup, args.data_root, args.workers)
    return measure(
        model_key, pipeline, args.steps, args.warmup, args.data_root, args.workers, args.device
    )


def machine(args) -> dict:
    """The fp32 GEMM peak, measured in a worker with the threads of the measurements."""
    peak = run_worker(args, "-", "gemm")
    return {
        "gemm_fp32": peak,
        "cpu_native_bf16": native_bf16_cpu(),
        "notes": [n for n in [bf16_note(peak["device"])] if n],
    }


def official_row(args, model_key: str, data: str) -> dict:
    if args.no_official:
        return {"skipped": "--no-official"}
    if data != "real":
        return {
            "skipped": f"the authors' code needs the real {model_key} files under {args.data_root}"
        }
    if args.device not in ("auto", "cpu") and not args.device.startswith("cuda"):
        return {"skipped": f"device {args.device}"}
    return run_worker(args, model_key, "official")


def official_fields(official: dict, rows: dict, flops: float, peak: dict) -> dict:
    """The authors' step beside ours: images/s, share of the GEMM peak, the speed-ups over it."""
    if "skipped" in official:
        return {"official_skipped": official["skipped"]}
    speed = official["images_per_s"]
    return {
        "official_images_per_s": speed,
        "official_images_per_s_spread": official.get("spread"),
        "official_epoch_s": official["epoch_s"],
        "official_peak_mem_mib": official["peak_mem_mib"],
        "official_gemm_peak_fraction": peak_fraction(speed, flops, peak),
        "ratio_vs_official": {k: v["images_per_s"] / speed for k, v in rows.items()},
    }


def official_line(r: dict) -> str:
    if "official_skipped" in r:
        return f"  official  skipped: {r['official_skipped']}"
    ratios = ", ".join(f"{k} {v:.2f}x" for k, v in r["ratio_vs_official"].items())
    return (
        f"  official  {r['official_images_per_s']:8.0f} img/s  epoch "
        f"{r['official_epoch_s']:7.1f} s  peak {r['official_peak_mem_mib']:6.0f} MiB  "
        f"{r['official_gemm_peak_fraction']:6.1%} of GEMM peak  (the authors' train(); "
        f"ours against it: {ratios})"
    )


def load_model_name(model_key: str) -> str:
    from engine.experiment import load_config

    return load_config(ROOT / MODELS[model_key][0])["model.name"]
