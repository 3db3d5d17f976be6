"""How a training run ends: the last epochs averaged into avg.pt, the model it hands on (avg.pt
where its dev CER is lower, else best.pt) scored on data.test as `asr evaluate` scores it, and
exp_dir/summary.json, what a reader who was not watching wants to know."""

from __future__ import annotations

import json
import math
import time
from pathlib import Path

from asr.checkpoint import average_checkpoints, save_checkpoint
from asr.datadir import Utterance
from asr.evaluate import evaluate, evaluate_loader, write_report
from asr.monitor import log
from asr.trainstate import Loaders, Run, TrainState


def finish(run: Run, ts: TrainState, loaders: Loaders, test: list[Utterance], out_of_time: bool) -> dict:
    """Average the last epochs into avg.pt (when asked), choose the model the run hands on (avg.pt
    where its dev CER is lower, else best.pt), score it on data.test, write summary.json (rank 0);
    close the metrics writer. Returns train()'s summary."""
    t0 = time.time()
    chosen, chosen_cer = run.exp_dir / "best.pt", ts.best_cer
    test_rates = None
    if run.d.main:
        avg_cer = _average(run, ts, loaders)
        if avg_cer < ts.best_cer:
            chosen, chosen_cer = run.exp_dir / "avg.pt", avg_cer
        if test and chosen.is_file():
            test_rates = _score_test(run, chosen, test)
    if run.writer:
        run.writer.close()
    summary = {
        "best_cer": ts.best_cer,
        "history": ts.history,
        "exp_dir": str(run.exp_dir),
        "out_of_time": out_of_time,
        "lr": ts.optimizer.param_groups[0]["lr"],  # the last step's
        "model": chosen.name,
        "model_dev_cer": chosen_cer,
        "test": test_rates,
    }
    if run.d.main:
        finish = time.time() - t0
        _write_summary(run, ts, summary, finish)
        spent = f" (beyond the budget of {run.recipe.train.max_minutes:g} min)" if run.deadline else ""
        log.info(f"averaging and scoring after training took {finish:.0f} s{spent}")
        log.info(f"done: best dev CER {ts.best_cer:.2%}; model: {chosen} (dev CER {chosen_cer:.2%})")
    return summary


def _average(run: Run, ts: TrainState, loaders: Loaders) -> float:
    """The last train.average_last epochs averaged into avg.pt; returns its dev CER (inf: none)."""
    cfg = run.recipe.train
    paths = sorted(run.exp_dir.glob("epoch*.pt"), key=lambda p: int(p.stem[5:]))[-cfg.average_last :]
    if not cfg.average_last or not paths:
        return math.inf
    ts.model.load_state_dict(average_checkpoints(paths))
    dev = evaluate_loader(ts.model, loaders.dev, run.vocab, run.device)
    save_checkpoint(
        run.exp_dir / "avg.pt",
        run.recipe,
        run.vocab,
        ts.model,
        {"averaged": [p.name for p in paths], "dev_cer": dev["cer"]},
    )
    log.info(f"averaged {len(paths)} epochs into avg.pt: dev CER {dev['cer']:.2%}")
    return dev["cer"]


def _score_test(run: Run, model: Path, test: list[Utterance]) -> dict:
    """data.test scored as `asr evaluate --decoder greedy` scores it (the model file as a user
    loads it); its report goes to exp_dir/test_report.json. Returns the summary's "test" entry."""
    from asr.recognizer import Recognizer

    rec = Recognizer(model, device=str(run.device), decoder="greedy")
    rows, failed, rates = evaluate(rec, test)
    write_report(run.exp_dir / "test_report.json", rows, rates, failed)
    log.info(
        f"test ({run.recipe.data.test}, {len(rows)} utterances, {model.name}, greedy): "
        f"CER {rates['cer']:.2%} WER {rates['wer']:.2%}" + (f"; {len(failed)} file(s) unreadable" if failed else "")
    )
    return {"data": run.recipe.data.test, "utterances": len(rows), "unreadable": len(failed), **rates}


def _write_summary(run: Run, ts: TrainState, summary: dict, finish: float) -> None:
    """exp_dir/summary.json: what the run ended with, for a reader who was not watching."""
    exp_dir = run.exp_dir
    out = {k: v for k, v in summary.items() if k not in ("history", "exp_dir")}
    out.update(
        epochs=len(ts.history),
        steps=ts.step,
        train_minutes=ts.spent / 60,
        finish_seconds=finish,
        amp=ts.amp,
    )
    # a CER never measured (inf) is null: JSON has no infinity
    out = {k: None if isinstance(v, float) and not math.isfinite(v) else v for k, v in out.items()}
    (exp_dir / "summary.json").write_text(json.dumps(out, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
