"""Seeing the alignment: per-frame posteriors of the blank and the emitted characters (their
CTC spikes) under the waveform, with each character's span (the frames it owns) marked."""

from __future__ import annotations

import math
import warnings
from pathlib import Path

import numpy as np
import torch

from asr.audio import SAMPLE_RATE, check_usable, worth_decoding
from asr.errors import UserError
from asr.recognizer import Recognizer
from asr.transcribe import cut
from asr.transcript import Transcript, joined


def aligned(rec: Recognizer, audio: str | Path) -> tuple[Transcript, np.ndarray, torch.Tensor]:
    """The file as `asr transcribe` reads it (cut at pauses, each piece decoded alone), with
    character times: (Transcript, its (N,) waveform, (T', V) posteriors of the whole file: each
    piece's where it lies, the blank's 1 in pieces not worth decoding)."""
    name, heard, pieces = cut(rec, audio)
    decoded, waves, posts = [], [], []
    for start, piece in pieces:  # consecutive: together they are the file
        waves.append(piece)
        if worth_decoding(piece):
            lp, n = rec.log_probs([rec.features(torch.as_tensor(piece))])
            result = rec.decode_log_probs(lp, n, times=True, waves=[piece])[0]
            decoded.append((start / SAMPLE_RATE, (start + len(piece)) / SAMPLE_RATE, result))
            posts.append((start, lp[0, : int(n[0])].exp()))
    result = joined(name, decoded, heard.samples, SAMPLE_RATE, rec.joiner)
    result.warning = check_usable(name, heard.samples, heard.peak)
    frames = math.ceil(heard.samples / SAMPLE_RATE / rec.frame_seconds)
    post = torch.zeros(frames, len(rec.vocab))
    post[:, rec.vocab.blank] = 1.0
    for start, p in posts:
        first = min(round(start / SAMPLE_RATE / rec.frame_seconds), frames)
        post[first : first + len(p)] = p[: frames - first]
    return result, np.concatenate(waves), post


def plot_alignment(rec: Recognizer, audio: str | Path, out: str | Path) -> Transcript:
    """Write a PNG: waveform with characters at their times (top), posteriorgram of the blank and
    of every emitted unit (bottom). Returns the file's Transcript (as `asr transcribe` gives it),
    its `warning` also saying when the plot's characters cannot be drawn."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib import font_manager

    result, wave, post = aligned(rec, audio)
    ids = [c.unit for c in result.chars]
    rows = [rec.vocab.blank] + sorted(set(ids), key=ids.index)
    cjk = cjk_font(font_manager)
    if cjk:
        plt.rcParams["font.family"] = cjk
    out = Path(out)
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        with warnings.catch_warnings():  # without a CJK font matplotlib warns once per glyph: say it once, below
            warnings.filterwarnings("ignore", message="Glyph .* missing from font", category=UserWarning)
            _draw(plt, rec, wave, audio, result, rows, post.numpy()[:, rows].T, out)
    except (OSError, ValueError) as exc:  # a folder that cannot be made, an image format matplotlib lacks
        raise UserError(f"--plot {out}: cannot write the plot ({str(exc).splitlines()[0]})") from None
    missing = not cjk and not (result.text or "").isascii()
    font = "no CJK font found: the plot's characters show as boxes (Debian: apt-get install fonts-wqy-microhei)"
    result.warning = "; ".join(w for w in (result.warning, font if missing else None) if w) or None
    return result


MAX_PLOT_INCHES = 60  # 2 inches a second up to 30 s; a longer file is squeezed into this width
CJK_NAMES = ("CJK", "Hei", "Song", "WenQuan", "Droid Sans Fallback")
CJK_FILES = ("wqy", "cjk", "droidsansfallback", "uming", "ukai")


def cjk_font(font_manager) -> str | None:
    """The family name of a font with Chinese glyphs, or None. matplotlib lists the fonts it found
    when it built its cache, so a font installed since then (make setup adds one) is looked up
    among the system's font files and added."""
    for f in font_manager.fontManager.ttflist:
        if any(k in f.name for k in CJK_NAMES):
            return f.name
    for path in font_manager.findSystemFonts():
        if any(k in Path(path).name.lower() for k in CJK_FILES):
            try:
                font_manager.fontManager.addfont(path)
                return font_manager.FontProperties(fname=path).get_name()
            except (OSError, RuntimeError, ValueError):
                continue
    return None


def _draw(plt, rec: Recognizer, wave, audio, result: Transcript, rows: list[int], post: np.ndarray, out) -> None:
    """The figure: waveform with character spans on top, posteriorgram (rows, T') below."""
    fig, (top, bottom) = plt.subplots(
        2,
        1,
        figsize=(min(max(8, len(wave) / SAMPLE_RATE * 2), MAX_PLOT_INCHES), 6),
        sharex=True,
        gridspec_kw={"height_ratios": [1, 2]},
    )
    t = np.arange(len(wave)) / SAMPLE_RATE
    top.plot(t, wave, lw=0.5, color="0.3")
    fs, height = rec.frame_seconds, 0.9 * float(np.abs(wave).max(initial=0.0))
    for c in result.chars:
        top.axvspan(c.start, c.end, color="tab:orange", alpha=0.3)
        top.text((c.start + c.end) / 2, height, rec.vocab.units[c.unit], ha="center", fontsize=12)
    top.set(ylabel="waveform", title=f"{Path(audio).name}: {result.text}")
    bottom.imshow(
        post,
        aspect="auto",
        origin="lower",
        cmap="magma",
        interpolation="nearest",
        extent=(0, post.shape[1] * fs, -0.5, len(rows) - 0.5),
        vmin=0,
        vmax=1,
    )
    bottom.set_yticks(range(len(rows)), ["<blank>"] + [rec.vocab.units[u] for u in rows[1:]])
    bottom.set(xlabel="seconds", ylabel="posterior")
    fig.tight_layout()
    fig.savefig(out, dpi=100)
    plt.close(fig)
