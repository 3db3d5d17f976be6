"""The learning-rate schedule: linear warm-up, per-epoch decay, and a cut on a dev-CER plateau."""

from __future__ import annotations


class LRSchedule:
    """lr = base * warm-up ramp * lr_decay^epoch * plateau scale; state travels in checkpoints."""

    def __init__(self, base: float, warmup: int, decay: float, plateau_factor: float, patience: int) -> None:
        self.base, self.warmup, self.decay = base, warmup, decay
        self.plateau_factor, self.patience = plateau_factor, patience
        self.scale, self.bad_epochs = 1.0, 0

    def lr(self, step: int, epoch: int) -> float:
        ramp = min(1.0, (step + 1) / self.warmup) if self.warmup else 1.0
        return self.base * ramp * self.decay**epoch * self.scale

    def end_epoch(self, improved: bool) -> None:
        self.bad_epochs = 0 if improved else self.bad_epochs + 1
        if self.plateau_factor != 1.0 and self.bad_epochs >= self.patience:
            self.scale *= self.plateau_factor
            self.bad_epochs = 0

    def state_dict(self) -> dict:
        return {"scale": self.scale, "bad_epochs": self.bad_epochs}

    def load_state_dict(self, state: dict) -> None:
        self.scale, self.bad_epochs = state["scale"], state["bad_epochs"]
