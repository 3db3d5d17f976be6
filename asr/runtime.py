"""Where a training process runs: its rank in a torchrun job, its device, its autocast dtype,
and the random state that a resumed run must restore."""

from __future__ import annotations

import os
import random
from dataclasses import dataclass

import torch

from asr.errors import UserError


@dataclass(frozen=True)
class Dist:
    """Where this process stands in a torchrun job (rank 0 of 1 without one)."""

    rank: int = 0
    world: int = 1
    local_rank: int = 0

    @classmethod
    def from_env(cls) -> Dist:
        return cls(int(os.environ.get("RANK", "0")), int(os.environ.get("WORLD_SIZE", "1")), int(os.environ.get("LOCAL_RANK", "0")))

    @property
    def main(self) -> bool:
        return self.rank == 0


def pick_device(name: str, d: Dist) -> torch.device:
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    if name.startswith("cuda"):
        if not torch.cuda.is_available():
            raise UserError("train.device is cuda but no CUDA GPU is visible; use device: cpu or auto")
        return torch.device("cuda", d.local_rank if d.world > 1 else (torch.device(name).index or 0))
    return torch.device(name)


def inference_device(name: str) -> torch.device:
    """cpu | cuda | cuda:N | auto (CUDA when a GPU is visible) -> a device; UserError otherwise."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(name)
    except RuntimeError:
        raise UserError(f"--device: expected auto, cpu, cuda or cuda:N, got {name!r}") from None
    if device.type == "cuda":
        if not torch.cuda.is_available():
            raise UserError(f"--device {name}: no CUDA GPU is visible; use --device cpu or auto")
        if (device.index or 0) >= torch.cuda.device_count():
            raise UserError(f"--device {name}: only {torch.cuda.device_count()} CUDA GPU(s) visible")
    elif device.type != "cpu":
        raise UserError(f"--device: expected auto, cpu, cuda or cuda:N, got {name!r}")
    return device


def amp_dtype(setting: str, device: torch.device) -> torch.dtype | None:
    if device.type != "cuda" or setting == "off":
        return None
    if setting == "fp16":
        return torch.float16
    if setting == "bf16" or torch.cuda.is_bf16_supported():
        return torch.bfloat16
    return torch.float16


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
