"""The `cuda` tier: every CUDA path of the project, in about 3 minutes on one GPU. Each test
skips (with the reason) where torch.cuda.is_available() is false; scripts/gpu_check.py runs
the tier (`python -m pytest -m cuda tests/test_cuda.py`).

- a training step per loss family under fp32 / bf16 / fp16 autocast (channels_last, the fp16
  GradScaler): finite loss and gradients;
- resume bit-exactness of train.py on CUDA with train.deterministic (cuDNN without benchmark,
  deterministic algorithms, a fixed cuBLAS workspace): a run stopped by SIGTERM mid-epoch and
  resumed ends with the weights of an uninterrupted run, bit for bit;
- JPEG decoding on the device (nvJPEG, datasets/device_decode.py) against PIL, with the
  tolerance of the CPU test (a few levels: IDCT / chroma upsampling differ between decoders);
- a 1-process NCCL DDP run through torchrun (tests/ddp_one_process_driver.py forces train.py
  through its distributed path) that matches a plain run;
- every registered loss called on the GPU (each float dtype, ignore_index, under autocast)
  gives the value it gives on the CPU.
"""

import subprocess
import sys

import fake_data
import pytest
import torch
from helpers import REPO, run_interrupted, write_config
from test_device_decode import image_files, pil_rgb  # noqa: F401 (image_files: a fixture)
from test_distributed import metrics, torchrun, weights

pytestmark = [
    pytest.mark.cuda,
    pytest.mark.skipif(
        not torch.cuda.is_available(),
        reason="no CUDA GPU: the cuda tier needs one (python scripts/gpu_check.py runs it)",
    ),
]

# one per loss family, with each config's parameters (MNIST): the classic, the robust, the
# normalised, the active-passive pairs, NLNL and a loss published after APL
LOSS_FAMILIES = ["ce", "gce", "mae", "nce", "nce+rce", "nfl+mae", "nlnl", "ldr-kl"]


def train_step(loss: str, amp: str, device: str = "cuda"):
    from engine.config import loss_kwargs
    from engine.experiment import load_config
    from engine.optim import build_optimizer
    from engine.step import forward_backward, optimizer_step
    from losses import build_loss
    from models import build_model

    cfg = load_config(REPO / "configs" / "mnist" / "sym" / f"{loss}.yaml")
    torch.manual_seed(0)
    model = build_model(cfg["model.name"], 10, 1, 28).to(device, memory_format=torch.channels_last)
    criterion = build_loss(cfg["loss.name"], 10, **loss_kwargs(cfg)).to(device)
    optimizer = build_optimizer(model, cfg)
    # fp16 as train.py runs it: with a GradScaler (a smaller first scale: one step, no time
    # to back off from an overflow of the default 2**16)
    scaler = torch.amp.GradScaler(device, enabled=amp == "fp16", init_scale=2.0**10)
    x = torch.rand(64, 1, 28, 28, device=device).to(memory_format=torch.channels_last)
    y = torch.randint(0, 10, (64,), device=device)
    _, value, _, finite = forward_backward(
        model, criterion, optimizer, scaler, x, y, amp, cfg["optim.grad_clip"]
    )
    grads = [p.grad for p in model.parameters()]
    optimizer_step(optimizer, scaler)
    return value, finite, grads, model


@pytest.mark.parametrize("amp", ["none", "bf16", "fp16"])
@pytest.mark.parametrize("loss", LOSS_FAMILIES)
def test_a_training_step_is_finite_under_autocast(loss, amp):
    value, finite, grads, model = train_step(loss, amp)
    assert value.dtype == torch.float32  # losses run in fp32, outside autocast
    assert bool(finite) and torch.isfinite(value)
    assert all(g is not None and torch.isfinite(g).all() for g in grads), "non-finite gradient"
    assert all(torch.isfinite(p).all() for p in model.parameters())


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16, torch.float32, torch.float64])
def test_every_loss_on_the_gpu_equals_the_cpu_with_ignore_index_under_autocast(dtype):
    """The library's call on the device (losses/inputs.py): any float dtype, ignore_index (the
    target-range check is CPU-only), autocast around it; values as on the CPU."""
    from losses import LOSSES, build_loss

    g = torch.Generator().manual_seed(0)
    z = (3 * torch.randn(64, 10, generator=g)).to(dtype)
    y = torch.randint(0, 10, (64,), generator=g)
    y[:3] = -100
    for name in sorted(set(LOSSES) - {"nlnl"}):  # NLNL: its random draws differ by device
        cpu = build_loss(name, 10, ignore_index=-100)(z, y)
        with torch.autocast("cuda", dtype=torch.bfloat16):
            gpu = build_loss(name, 10, ignore_index=-100).cuda()(z.cuda(), y.cuda())
        assert gpu.dtype == cpu.dtype and torch.allclose(gpu.cpu(), cpu, rtol=1e-4, atol=1e-5), (
            name,
            gpu.item(),
            cpu.item(),
        )


def test_resume_on_cuda_is_bit_exact_with_deterministic_kernels(tmp_path):
    root = fake_data.write_fake_mnist(tmp_path / "data", n_train=256, n_test=64)
    config = write_config(
        tmp_path / "cfg.yaml", train={"device": "cuda", "deterministic": True, "amp": "bf16"}
    )
    common = ["--config", str(config), "--data-root", str(root)]
    full = subprocess.run(
        [sys.executable, "train.py", *common, "--out", str(tmp_path / "full")],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=300,
    )
    assert full.returncode == 0, full.stderr[-2000:]
    out = tmp_path / "cut"
    stopped = run_interrupted(common + ["--out", str(out)], "SIGTERM", epoch=1, step=3)
    assert stopped.returncode == 128 + 15, stopped.stderr[-2000:]
    resumed = subprocess.run(
        [sys.executable, "train.py", *common, "--out", str(out), "--resume"],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=300,
    )
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    a, b = weights(tmp_path / "full"), weights(out)
    diff = max((a[k].double() - b[k].double()).abs().max().item() for k in a)
    assert all(torch.equal(a[k], b[k]) for k in a), f"largest weight difference {diff:.3g}"
    assert all(r["device"].startswith("cuda") for r in metrics(out))


def test_device_jpeg_decoding_matches_pil(image_files):  # noqa: F811
    from torchvision.io import read_file

    from datasets import device_decode as dd

    on_gpu = dd.decode_batch([read_file(f) for f in image_files], "cuda", image_files)
    on_cpu = dd.decode_batch([read_file(f) for f in image_files], "cpu", image_files)
    for f, image in zip(image_files, on_gpu, strict=False):
        ref = pil_rgb(f)
        assert image.is_cuda and image.dtype == torch.uint8 and image.shape == ref.shape
        diff = (image.cpu().int() - ref.int()).abs()
        # nvJPEG and Pillow's libjpeg differ in IDCT / chroma upsampling by a few levels
        assert diff.float().mean() < 1.0 and diff.max() <= 8, (f, diff.max().item())
    # the batched eval transform on the GPU against the CPU's: one level, rarely (module doc)
    gpu = dd.eval_transform_batch(on_gpu).cpu()
    cpu = dd.eval_transform_batch([x.cuda() for x in on_cpu]).cpu()
    assert (gpu - cpu).abs().max() <= 8 / 255


def test_one_process_nccl_ddp_run_matches_a_plain_run(tmp_path):
    config = write_config(
        tmp_path / "cfg.yaml",
        dataset="digits",
        train={
            "epochs": 2,
            "batch_size": 100,
            "device": "cuda",
            "deterministic": True,
            "sync_bn": True,
        },
    )
    args = ["--config", str(config), "--train-subset", "1015"]
    plain = subprocess.run(
        [sys.executable, "train.py", *args, "--out", str(tmp_path / "plain")],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=300,
    )
    assert plain.returncode == 0, plain.stderr[-2000:]
    ddp = torchrun(
        REPO / "tests" / "ddp_one_process_driver.py",
        args + ["--out", str(tmp_path / "ddp")],
        processes=1,
    )
    assert ddp.returncode == 0, ddp.stderr[-2000:]
    assert "x 1 processes" in ddp.stdout + ddp.stderr  # it ran the distributed path
    for a, b in zip(metrics(tmp_path / "plain"), metrics(tmp_path / "ddp"), strict=False):
        assert b["train_loss"] == pytest.approx(a["train_loss"], rel=1e-5)
        assert b["test_top1"] == pytest.approx(a["test_top1"], abs=100 / 359 + 1e-9)
    w1, w2 = weights(tmp_path / "plain"), weights(tmp_path / "ddp")
    diff = max((w1[k].double() - w2[k].double()).abs().max().item() for k in w1)
    assert diff < 1e-4, diff
