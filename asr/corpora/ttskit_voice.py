"""ttskit's offline multi-speaker Mandarin synthesis as a voice source for the demo corpus.

PyPI's `ttskit==0.3.8` (MIT) carries a multi-speaker Mellotron (text -> mel spectrogram, one
speaker vector per speaker name) and a MelGAN vocoder inside its wheel: whole sentences, read
fluently in 23 voices, offline. Its 24th speaker, `biaobei`, is kept out of train and dev (a
held-out voice). The package was written for torch 1.7 and librosa 0.8 and pins them, so it is
installed with `pip install --no-deps` and its few runtime imports beside it (`make setup`);
three calls changed since, and `_compat` adapts them while ttskit loads (librosa's
`pad_center` and `filters.mel` take keyword arguments now, and `torch.load` unpickles whole
modules, as ttskit's model files are, only with `weights_only=False`: the files come from the
installed wheel).
"""

from __future__ import annotations

import contextlib
import functools
import importlib.util
import io
from collections.abc import Iterator

import numpy as np
import soundfile as sf

from asr.audio import to_mono
from asr.corpora.syllables import trim

# ttskit's speaker names (its resource/__init__.py), less the held-out one.
SPEAKERS = (
    "Aibao",
    "Aicheng",
    "Aida",
    "Aijia",
    "Aijing",
    "Aimei",
    "Aina",
    "Aiqi",
    "Aitong",
    "Aiwei",
    "Aixia",
    "Aiya",
    "Aiyu",
    "Aiyue",
    "Siyue",
    "Xiaobei",
    "Xiaogang",
    "Xiaomei",
    "Xiaomeng",
    "Xiaowei",
    "Xiaoxue",
    "Xiaoyun",
    "Yina",
)
HELDOUT_SPEAKER = "biaobei"
# What `from ttskit import sdk_api` imports beyond asr's own dependencies (`make setup`).
MODULES = (
    "ttskit",
    "aukit",
    "phkit",
    "pydub",
    "pypinyin",
    "jieba",
    "dotmap",
    "hanziconv",
    "unidecode",
    "inflect",
    "webrtcvad",
)


def missing() -> str | None:
    """None when ttskit and its runtime imports are installed, else a one-line reason."""
    absent = [m for m in MODULES if importlib.util.find_spec(m) is None]
    if absent:
        return f"{', '.join(absent)} not installed (make setup installs them)"
    return None


@contextlib.contextmanager
def _compat() -> Iterator[None]:
    """librosa 0.10's and torch 2's signatures as ttskit 0.3.8 calls them, while it imports and loads."""
    import librosa.filters
    import librosa.util
    import torch

    saved = (librosa.util.pad_center, librosa.filters.mel, torch.load)
    pad_center, mel, load = saved
    librosa.util.pad_center = lambda data, size=None, **kw: pad_center(data, size=size, **kw)
    librosa.filters.mel = lambda *args, **kw: mel(**dict(zip(("sr", "n_fft", "n_mels", "fmin", "fmax"), args)), **kw)
    torch.load = functools.partial(load, weights_only=False)
    try:
        yield
    finally:
        librosa.util.pad_center, librosa.filters.mel, torch.load = saved


@functools.cache
def _sdk():
    """ttskit's sdk_api with its multi-speaker Mellotron and MelGAN loaded (once per process)."""
    import logging
    import warnings

    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    # ttskit's modules call logging.basicConfig(level=INFO) and log each optional import they lack,
    # and phkit draws progress bars while it loads its dictionaries: none of it is ours to print
    with _compat(), warnings.catch_warnings(), contextlib.redirect_stderr(io.StringIO()):
        warnings.simplefilter("ignore")  # pydub's "no ffmpeg" (ttskit writes wav only), pkg_resources
        from ttskit import sdk_api

        for name in ("sdk_api", "phkit", "jieba"):  # their INFO lines per call would flood the corpus build
            logging.getLogger(name).setLevel(logging.WARNING)
        sdk_api.load_models(
            mellotron_path=sdk_api._mellotron_path,
            waveglow_path="_",
            melgan_path=sdk_api._melgan_path,
            ge2e_path="_",
            mellotron_hparams_path=sdk_api._mellotron_hparams_path,
            reference_audio_tar_path="_",
            audio_tar_path="_",
        )
        sdk_api.tts_sdk_base("好", speaker=SPEAKERS[0], audio="1")  # phkit loads its dictionaries here
    for handler in set(root.handlers) - set(handlers):
        root.removeHandler(handler)
    root.setLevel(level)
    return sdk_api


def synthesize(text: str, speaker: str, seed: int) -> tuple[np.ndarray, int]:
    """`text` read by ttskit's `speaker`: mono float32, leading and trailing silence trimmed, and
    its sample rate (22.05 kHz). Mellotron's prenet keeps dropout on while it synthesizes, so
    `seed` fixes the reading."""
    import torch

    if speaker not in SPEAKERS:
        raise ValueError(f"{speaker!r} is not a ttskit training voice (one of asr.corpora.ttskit_voice.SPEAKERS)")
    sdk = _sdk()
    torch.manual_seed(seed)
    with torch.inference_mode():
        # mode "mspk": the speaker vector comes from the name; the reference audio is not used
        data = sdk.tts_sdk_base(text, speaker=speaker, audio="1")
    wave, sr = sf.read(io.BytesIO(data), dtype="float32")
    return trim(to_mono(wave)), sr
