"""The learning-rate schedule: linear warm-up, decay per epoch or over a time budget, and a cut on
a dev-CER plateau."""

from __future__ import annotations


class LRSchedule:
    """lr = base * warm-up ramp * decay * plateau scale; state travels in checkpoints. The decay is
    decay^epoch, or, with a `budget` of seconds, final^(spent / budget): exponential in the time
    spent, reaching final when the budget ends (and staying there)."""

    def __init__(
        self,
        base: float,
        warmup: int,
        decay: float,
        plateau_factor: float,
        patience: int,
        final: float = 0.0,
        budget: float = 0.0,
    ) -> None:
        self.base, self.warmup, self.decay = base, warmup, decay
        self.plateau_factor, self.patience = plateau_factor, patience
        self.final, self.budget = final, budget
        self.scale, self.bad_epochs = 1.0, 0

    def lr(self, step: int, epoch: int, spent: float = 0.0) -> float:
        """The rate of optimizer step `step` in epoch `epoch`, `spent` seconds into training."""
        ramp = min(1.0, (step + 1) / self.warmup) if self.warmup else 1.0
        decay = self.final ** min(1.0, spent / self.budget) if self.budget else self.decay**epoch
        return self.base * ramp * decay * self.scale

    def end_epoch(self, improved: bool) -> None:
        self.bad_epochs = 0 if improved else self.bad_epochs + 1
        if self.plateau_factor != 1.0 and self.bad_epochs >= self.patience:
            self.scale *= self.plateau_factor
            self.bad_epochs = 0

    def state_dict(self) -> dict:
        return {"scale": self.scale, "bad_epochs": self.bad_epochs}

    def load_state_dict(self, state: dict) -> None:
        self.scale, self.bad_epochs = state["scale"], state["bad_epochs"]
