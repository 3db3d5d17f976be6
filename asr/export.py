"""Exporting a model for deployment: ONNX (for onnxruntime) and TorchScript, plus int8.

Both exports take unnormalized (B, T, F) MFCC features and their lengths and return CTC
log-probabilities and output lengths, exactly as CTCModel.forward: CMVN is inside. The
vocabulary and frontend settings travel in the file (ONNX metadata / TorchScript extra files),
so a deployment can compute the same features and map outputs to characters.
"""

from __future__ import annotations

import dataclasses
import json
import warnings
from pathlib import Path
from typing import TYPE_CHECKING

import torch
from torch import nn

from asr.checkpoint import load_checkpoint, model_from_checkpoint
from asr.errors import UserError

if TYPE_CHECKING:
    from asr.config import Recipe
    from asr.vocab import Vocab


def quantize_int8(model: nn.Module) -> nn.Module:
    """Dynamic int8 quantization of the LSTM, GRU and linear layers (weights int8, activations
    quantized on the fly): smaller and faster on CPUs, at a small accuracy cost."""
    # The quantized LSTM re-quantizes its weights on every forward call through a function
    # torch marks deprecated: one warning per call that a user can do nothing about.
    warnings.filterwarnings("ignore", message=r"torch\.quantize_per_tensor", category=UserWarning)
    return torch.ao.quantization.quantize_dynamic(model, {nn.LSTM, nn.GRU, nn.Linear}, dtype=torch.qint8)


def _metadata(recipe: Recipe, vocab: Vocab) -> dict[str, str]:
    return {
        "asr_vocab": json.dumps(vocab.units, ensure_ascii=False),
        "asr_features": json.dumps(dataclasses.asdict(recipe.features)),
        "asr_frame_seconds": str(recipe.model.stack * 0.01),
    }


def _example(dim: int) -> tuple[torch.Tensor, torch.Tensor]:
    return torch.randn(2, 103, dim), torch.tensor([103, 71])


def export_onnx(model_path: str | Path, out: str | Path, opset: int = 17) -> Path:
    try:
        import onnx
    except ImportError:
        raise UserError("ONNX export needs the onnx package: pip install 'asr[export]'") from None
    recipe, vocab, model = model_from_checkpoint(load_checkpoint(model_path))
    out = Path(out)
    with warnings.catch_warnings():
        # The exporter warns of any LSTM exported with a variable batch: ours keeps no state
        # between calls and packs nothing, and tests/test_export.py runs other batch sizes and
        # lengths than the example's through onnxruntime against PyTorch.
        warnings.filterwarnings("ignore", message="Exporting a model to ONNX with a batch_size other than 1")
        _onnx_export(model, recipe, out, opset)
    proto = onnx.load(str(out))
    for key, value in _metadata(recipe, vocab).items():
        proto.metadata_props.add(key=key, value=value)
    onnx.save(proto, str(out))
    return out


def _onnx_export(model: torch.nn.Module, recipe, out: Path, opset: int) -> None:
    torch.onnx.export(
        model,
        _example(recipe.features.dim),
        str(out),
        input_names=["feats", "feat_lens"],
        output_names=["log_probs", "out_lens"],
        opset_version=opset,
        dynamo=False,
        dynamic_axes={
            "feats": {0: "batch", 1: "frames"},
            "feat_lens": {0: "batch"},
            "log_probs": {0: "batch", 1: "out_frames"},
            "out_lens": {0: "batch"},
        },
    )


def export_torchscript(model_path: str | Path, out: str | Path, int8: bool = False) -> Path:
    recipe, vocab, model = model_from_checkpoint(load_checkpoint(model_path))
    net = quantize_int8(model) if int8 else model
    out = Path(out)
    with torch.no_grad(), warnings.catch_warnings():
        # torch 2.x marks TorchScript deprecated (asr/cells.py says why it is still what we export)
        warnings.filterwarnings("ignore", message=r"`torch\.jit\.\w+` is deprecated", category=FutureWarning)
        traced = torch.jit.trace(net, _example(recipe.features.dim), check_trace=False)
        torch.jit.save(traced, str(out), _extra_files={k: v.encode() for k, v in _metadata(recipe, vocab).items()})
    return out
