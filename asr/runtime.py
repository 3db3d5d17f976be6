"""Where a training process runs: its rank in a torchrun job, its device, its autocast dtype,
and the random state that a resumed run must restore."""

from __future__ import annotations

import math
import os
import random
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
import torch.distributed as dist

from asr.errors import UserError


@dataclass(frozen=True)
class Dist:
    """Where this process stands in a torchrun job (rank 0 of 1 without one)."""

    rank: int = 0
    world: int = 1
    local_rank: int = 0

    @classmethod
    def from_env(cls) -> Dist:
        return cls(
            int(os.environ.get("RANK", "0")),
            int(os.environ.get("WORLD_SIZE", "1")),
            int(os.environ.get("LOCAL_RANK", "0")),
        )

    @property
    def main(self) -> bool:
        return self.rank == 0


def pick_device(name: str, d: Dist) -> torch.device:
    """The training device, resolved as inference_device does; under torchrun each rank takes
    the GPU of its local rank, whatever index the setting names."""
    device = inference_device(name.split(":")[0] if d.world > 1 else name, what="train.device")
    if device.type == "cuda":
        return torch.device("cuda", d.local_rank if d.world > 1 else (device.index or 0))
    return device


def inference_device(name: str, what: str = "--device") -> torch.device:
    """cpu | cuda | cuda:N | auto (CUDA when a GPU is visible) -> a device; a UserError naming
    `what` (the option or recipe key) otherwise."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(name)
    except RuntimeError:
        raise UserError(f"{what}: expected auto, cpu, cuda or cuda:N, got {name!r}") from None
    if device.type == "cuda":
        if not torch.cuda.is_available():
            raise UserError(f"{what} {name}: no CUDA GPU is visible; use {what} cpu or auto")
        if (device.index or 0) >= torch.cuda.device_count():
            raise UserError(f"{what} {name}: only {torch.cuda.device_count()} CUDA GPU(s) visible")
    elif device.type != "cpu":
        raise UserError(f"{what}: expected auto, cpu, cuda or cuda:N, got {name!r}")
    return device


def amp_dtype(setting: str, device: torch.device) -> torch.dtype | None:
    """The autocast dtype of train.amp (auto, bf16, fp16 or off) on `device`, None for float32.
    On the CPU: bf16 when asked (fp16 autocast is CUDA's); auto is float32 here, and the run
    decides with a probe (choose_amp)."""
    if setting == "off":
        return None
    if device.type != "cuda":
        if setting == "fp16":
            raise UserError("train.amp fp16: float16 autocast is for CUDA GPUs; on a CPU use bf16, auto or off")
        return torch.bfloat16 if setting == "bf16" else None
    if setting == "fp16":
        return torch.float16
    if setting == "bf16" or torch.cuda.is_bf16_supported():
        return torch.bfloat16
    return torch.float16


def amp_name(dtype: torch.dtype | None) -> str:
    """bf16, fp16 or off: an autocast dtype as recipes and options name it."""
    return {torch.bfloat16: "bf16", torch.float16: "fp16"}.get(dtype, "off") if dtype else "off"


BF16_FLAGS = ("amx_bf16", "avx512_bf16", "bf16")  # x86 (AMX, AVX-512) and Arm (FEAT_BF16) instructions


def cpu_bf16_path() -> str | None:
    """The CPU flag (/proc/cpuinfo) that gives bfloat16 matrix products a fast path on this CPU,
    None without one (or without /proc/cpuinfo): there, bf16 autocast emulates and is slower."""
    try:
        flags = set(Path("/proc/cpuinfo").read_text(errors="replace").split())
    except OSError:
        return None
    return next((f for f in BF16_FLAGS if f in flags), None)


PROBE_RUNS = 3  # timings of each precision, alternating: the median of each is compared
PROBE_MARGIN = 0.9  # bf16 is taken when its median is below this share of float32's


def choose_amp(step: Callable[[torch.dtype | None], float], what: str = "step") -> tuple[torch.dtype | None, str]:
    """`auto` on the CPU: bf16 where the CPU has a bf16 path and `step` (run with an autocast
    dtype, None: float32; returns a loss or any number computed in it) is at least 10% faster in
    bf16 (the medians of 3 timings each, alternating, after one warm-up each: a single timing's
    noise on a shared 2-core machine is several percent), with finite results; float32 otherwise.
    Returns (dtype, why: for the log)."""
    path = cpu_bf16_path()
    if path is None:
        return None, f"float32 (this CPU has no bf16 path: none of {', '.join(BF16_FLAGS)} in /proc/cpuinfo)"
    step(None), step(torch.bfloat16)  # warm-up: first calls allocate and pick kernels
    seconds: dict[torch.dtype | None, list[float]] = {None: [], torch.bfloat16: []}
    finite = True
    for run in range(PROBE_RUNS):
        for dtype in (None, torch.bfloat16)[:: 1 if run % 2 == 0 else -1]:  # each goes first in turn
            start = time.perf_counter()
            result = step(dtype)
            seconds[dtype].append(time.perf_counter() - start)
            finite = finite and (dtype is None or math.isfinite(result))
    bf16, fp32 = (statistics.median(seconds[d]) for d in (torch.bfloat16, None))
    timing = f"{what} {bf16:.3g} s vs {fp32:.3g} s float32, medians of {PROBE_RUNS}, {path}"
    if not finite:
        return None, f"float32 (the bf16 {what} was not finite; {timing})"
    if bf16 < PROBE_MARGIN * fp32:
        return torch.bfloat16, f"bf16 ({timing})"
    return None, f"float32 (bf16 is not {1 - PROBE_MARGIN:.0%} faster here: {timing})"


def loss_scaling(dtype: torch.dtype | None, device: torch.device) -> bool:
    """Whether training under autocast(dtype) needs a gradient scaler. float16 does (its range
    is narrow), bfloat16 does not, unless this torch runs cuDNN's RNNs in float16 when bfloat16
    is asked for: torch 2.11 with cuDNN 9.19 on an H200 did, so one LSTM step finds out."""
    if dtype == torch.float16:
        return True
    if dtype != torch.bfloat16 or device.type != "cuda":
        return False
    probe = torch.nn.LSTM(1, 1).to(device)
    with torch.no_grad(), torch.autocast(device.type, dtype=dtype):
        return probe(torch.zeros(1, 1, 1, device=device))[0].dtype == torch.float16


def rng_state(device: torch.device) -> dict:
    version, internal, gauss = random.getstate()
    state = {"torch": torch.get_rng_state(), "python": [version, list(internal), gauss]}
    if device.type == "cuda":
        state["cuda"] = torch.cuda.get_rng_state(device)
    return state


def set_rng_state(state: dict, device: torch.device) -> None:
    torch.set_rng_state(state["torch"])
    version, internal, gauss = state["python"]
    random.setstate((version, tuple(internal), gauss))
    if device.type == "cuda" and "cuda" in state:
        torch.cuda.set_rng_state(state["cuda"], device)


RANK_SEED_STRIDE = 1_000_003  # rank r seeds its random streams with seed + r * this


def seed_rank(seed: int, d: Dist) -> int:
    """Seed this process's torch and Python streams: each rank draws its own dropout, masks and
    loader seeds, and rank 0's are a single process's. Returns the rank's seed."""
    rank_seed = seed + RANK_SEED_STRIDE * d.rank
    torch.manual_seed(rank_seed)
    random.seed(rank_seed)
    return rank_seed


def gather_rng(d: Dist, device: torch.device) -> list[dict]:
    """Every rank's RNG state, in rank order, on rank 0 (this rank's alone elsewhere). Collective."""
    mine = rng_state(device)
    if d.world == 1:
        return [mine]
    states: list[Any] | None = [None] * d.world if d.main else None  # rank 0's, filled by the gather
    dist.gather_object(mine, states, dst=0)
    return states if states is not None else [mine]


def restore_rng(saved: list[dict] | dict, d: Dist, device: torch.device, fallback_seed: int) -> bool:
    """Restore this rank's own RNG state; False when the checkpoint comes from a run with another
    number of processes (its streams are then reseeded with fallback_seed: not bit-exact)."""
    states = saved if isinstance(saved, list) else [saved]  # single-state files of earlier versions
    if len(states) == d.world:
        set_rng_state(states[d.rank], device)
        return True
    torch.manual_seed(fallback_seed)
    random.seed(fallback_seed)
    return False


def all_ranks(flag: bool, d: Dist, device: torch.device) -> bool:
    """True when `flag` holds on every rank (collective under DDP), so that all take the same branch."""
    if d.world == 1:
        return flag
    t = torch.tensor([int(flag)], device=device)
    dist.all_reduce(t, op=dist.ReduceOp.MIN)
    return bool(t.item())


def max_over_ranks(x: float, d: Dist, device: torch.device) -> float:
    if d.world == 1:
        return x
    t = torch.tensor([x], dtype=torch.float64, device=device)
    dist.all_reduce(t, op=dist.ReduceOp.MAX)
    return float(t.item())


def sum_over_ranks(n: int, d: Dist, device: torch.device) -> int:
    if d.world == 1:
        return n
    total = torch.tensor([n], device=device)
    dist.all_reduce(total)
    return int(total.item())
