"""Seeing the alignment: per-frame posteriors of the blank and the emitted characters over the
waveform, with each character's CTC spike marked."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np

from asr.audio import SAMPLE_RATE, check_usable, load_audio
from asr.errors import UserError
from asr.recognizer import Recognizer
from asr.transcript import Transcript


def plot_alignment(rec: Recognizer, audio: str | Path, out: str | Path) -> Transcript:
    """Write a PNG: waveform with characters at their times (top), posteriorgram of the blank and
    of every emitted unit (bottom). Returns the file's Transcript (greedy or the recognizer's
    decoder), its `warning` also saying when the plot's characters cannot be drawn."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib import font_manager

    wave = load_audio(audio)
    warning = check_usable(str(audio), len(wave), float(wave.abs().max()))
    lp, n = rec.log_probs([rec.features(wave)])
    lp = lp[0, : int(n[0])]
    result = rec.decode_log_probs(lp[None], n, times=True)[0]  # its chars carry their units and frames
    ids = [c.unit for c in result.chars]
    rows = [rec.vocab.blank] + sorted(set(ids), key=ids.index)
    post = lp.exp().numpy()[:, rows].T  # (rows, T')
    cjk = cjk_font(font_manager)
    if cjk:
        plt.rcParams["font.family"] = cjk
    out = Path(out)
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        with warnings.catch_warnings():  # without a CJK font matplotlib warns once per glyph: say it once, below
            warnings.filterwarnings("ignore", message="Glyph .* missing from font", category=UserWarning)
            _draw(plt, rec, wave, audio, result, rows, post, out)
    except (OSError, ValueError) as exc:  # a folder that cannot be made, an image format matplotlib lacks
        raise UserError(f"--plot {out}: cannot write the plot ({str(exc).splitlines()[0]})") from None
    missing = bool(result.text) and not cjk and not result.text.isascii()
    font = "no CJK font found: the plot's characters show as boxes (Debian: apt-get install fonts-wqy-microhei)"
    said = "; ".join(w for w in (warning, font if missing else None) if w)
    result.path, result.duration = str(audio), round(len(wave) / SAMPLE_RATE, 3)
    result.warning = said or None
    return result


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
        2, 1, figsize=(max(8, len(wave) / SAMPLE_RATE * 2), 6), sharex=True, gridspec_kw={"height_ratios": [1, 2]}
    )
    t = np.arange(len(wave)) / SAMPLE_RATE
    top.plot(t, wave.numpy(), lw=0.5, color="0.3")
    fs = rec.frame_seconds
    for c in result.chars:
        s, e = c.frames
        top.axvspan(s * fs, (e + 1) * fs, color="tab:orange", alpha=0.3)
        top.text((s + e + 1) / 2 * fs, 0.9 * float(wave.abs().max()), rec.vocab.units[c.unit], ha="center", fontsize=12)
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
