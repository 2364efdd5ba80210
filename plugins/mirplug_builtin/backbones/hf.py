"""Backbone ``hf``: any Hugging Face ``transformers`` audio encoder, by hub id or local folder.

Tested families: AST, wav2vec2, HuBERT, WavLM, Whisper (encoder only), CLAP (audio tower)
and, with ``trust_remote_code=true``, MERT. The model's own feature extractor turns the
waveform windows into its inputs, at the extractor's sampling rate (the runner decodes
audio at that rate). ``layer`` picks one hidden state (0 = the embeddings) or ``all`` (a
learned softmax-weighted sum, as in SUPERB); ``pooling`` turns the token sequence into one
vector. Modes: ``frozen`` (no gradient; embeddings computed once by the runner), ``probe``
(transformer fixed, layer weights/attention pooling/head trained every epoch) and
``finetune`` (everything trains; ``lora=true`` trains LoRA adapters through ``peft``).

Needs the ``hf`` extra: ``pip install 'mirplug[hf]'`` (transformers, peft).
"""

from __future__ import annotations

import json
import os
import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from mirplug import Backbone, ConfigError

# Linear layers LoRA adapts, by the names the supported families give their attention projections.
_LORA_TARGETS = ("q_proj", "v_proj", "query", "value")


def _offline() -> bool:
    return os.environ.get("HF_HUB_OFFLINE", "").lower() in {"1", "true", "yes", "on"}


def _check_remote_code(model: str, trust_remote_code: bool) -> None:
    """Refuse a model that needs code from its repository unless the user trusts it."""
    config_file = Path(model) / "config.json"
    if not config_file.is_file():
        return  # a hub id: transformers itself refuses remote code unless trusted
    config = json.loads(config_file.read_text())
    if config.get("auto_map") and not trust_remote_code:
        raise ConfigError(
            f"backbone.model={model} runs code shipped with the model (auto_map: "
            f"{', '.join(sorted(config['auto_map']))}), as MERT does; pass backbone.trust_remote_code=true "
            "only if you trust its source"
        )


def load_pretrained(model: str, trust_remote_code: bool) -> tuple[Any, nn.Module]:
    """The feature extractor and the audio encoder of ``model`` (a folder or a cached hub id)."""
    try:
        import transformers
    except ImportError:
        raise ConfigError("backbone hf needs transformers: pip install 'mirplug[hf]'") from None
    if not model:
        raise ConfigError("backbone hf needs backbone.model=<hub id or local folder>, "
                          "e.g. backbone.model=MIT/ast-finetuned-audioset-10-10-0.4593")
    _check_remote_code(model, trust_remote_code)
    local = Path(model).is_dir()
    kwargs: dict[str, Any] = {"trust_remote_code": trust_remote_code}
    if not local and _offline():
        kwargs["local_files_only"] = True
    try:
        extractor = transformers.AutoFeatureExtractor.from_pretrained(model, **kwargs)
        encoder = transformers.AutoModel.from_pretrained(model, **kwargs)
    except (OSError, EnvironmentError) as exc:
        if local:
            raise ConfigError(f"backbone.model={model}: cannot load the model folder ({exc})") from None
        raise ConfigError(
            f"backbone.model={model} is not available offline; download it once with "
            f"`huggingface-cli download {model}` (or `hf download {model}`), or pass a local folder "
            "saved with save_pretrained: backbone.model=/path/to/dir"
        ) from None
    except ValueError as exc:
        if "trust_remote_code" in str(exc):
            raise ConfigError(f"backbone.model={model} needs its own code; pass backbone.trust_remote_code=true "
                              "only if you trust its source") from None
        raise ConfigError(f"backbone.model={model}: {exc}") from None
    # Keep the audio encoder only: CLAP's audio tower, Whisper's encoder.
    if hasattr(encoder, "audio_model"):
        encoder = encoder.audio_model
    elif getattr(encoder.config, "is_encoder_decoder", False) and hasattr(encoder, "get_encoder"):
        encoder = encoder.get_encoder()
    return extractor, encoder


def _min_samples(config: Any) -> int:
    """The receptive field of a wav2vec2-style convolutional front end (1 when there is none)."""
    kernels, strides = getattr(config, "conv_kernel", None), getattr(config, "conv_stride", None)
    if not kernels or not strides:
        return 1
    field = 1
    for kernel, stride in zip(reversed(list(kernels)), reversed(list(strides))):
        field = (field - 1) * stride + kernel
    return field


def _tokens(hidden: torch.Tensor) -> torch.Tensor:
    """A hidden state as ``(batch, tokens, width)``; CLAP's (batch, width, h, w) maps are flattened."""
    if hidden.dim() == 4:
        return hidden.flatten(2).transpose(1, 2)
    return hidden


class AttentionPool(nn.Module):
    """Softmax attention over tokens with one learned query."""

    def __init__(self, width: int) -> None:
        super().__init__()
        self.score = nn.Linear(width, 1)

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        weights = self.score(tokens).softmax(dim=1)
        return (weights * tokens).sum(dim=1)


class HFBackbone(Backbone):
    """Waveform windows ``(batch, 1, time)`` -> feature extractor -> transformer -> pooled hidden state."""

    standardize_input = False  # the feature extractor normalises as the model was trained

    @classmethod
    def input_sample_rate(cls, options: Mapping[str, Any]) -> int:
        """The sampling rate the model's feature extractor wants (asked before the backbone is built)."""
        extractor, _ = load_pretrained(options.get("model") or "", bool(options.get("trust_remote_code")))
        return int(extractor.sampling_rate)

    def __init__(self, input_shape: tuple[int, ...], frame_rate: float | None = None, model: str | None = None,
                 layer: str = "last", pooling: str = "mean", mode: str = "frozen", head: str = "linear",
                 lora: bool = False, trust_remote_code: bool = False) -> None:
        super().__init__()
        self.model_name = model or ""
        self.extractor, self.encoder = load_pretrained(self.model_name, trust_remote_code)
        self.sample_rate = int(self.extractor.sampling_rate)
        if frame_rate is not None and int(round(frame_rate)) != self.sample_rate:
            raise ConfigError(f"backbone hf ({self.model_name}) needs {self.sample_rate} Hz input, got {frame_rate:g} Hz")
        self.mode, self.head_kind, self.pooling = mode, head, pooling
        # LayerDrop skips layers at random while training, which would shift the layer indices.
        for module in [self.encoder.config, *self.encoder.modules()]:
            for attribute in ("layerdrop", "encoder_layerdrop"):
                if isinstance(getattr(module, attribute, None), float):
                    setattr(module, attribute, 0.0)
        self.min_samples = _min_samples(self.encoder.config)
        self._warned_short = False
        n_samples = int(input_shape[-1])
        with torch.no_grad():
            hidden = self._hidden_states(torch.zeros(1, max(n_samples, self.min_samples)))
        widths = [h.shape[-1] for h in hidden]
        last = len(hidden) - 1
        if layer == "all":
            if len(set(widths)) != 1:
                raise ConfigError(f"backbone.layer=all needs hidden states of one width; {self.model_name} has "
                                  f"widths {widths}; choose one layer 0..{last}")
            self.layer: int | None = None
            self.layer_weights = nn.Parameter(torch.zeros(len(hidden)))
        else:
            if layer == "last":
                index = last
            else:
                try:
                    index = int(layer)
                except ValueError:
                    raise ConfigError(f"backbone.layer={layer!r} must be a number 0..{last}, 'last' or 'all'") from None
            if not 0 <= index <= last:
                raise ConfigError(f"backbone.layer={layer} is out of range: {self.model_name} has hidden states "
                                  f"0..{last} (0 = embeddings, {last} = last layer) or 'all'")
            self.layer = index
        self.embedding_dim = widths[-1] if self.layer is None else widths[self.layer]
        self.attention = AttentionPool(self.embedding_dim) if pooling == "attention" else None
        self.frozen = mode == "frozen"
        if self.frozen and (self.layer is None or self.attention is not None):
            raise ConfigError("backbone.mode=frozen caches fixed embeddings, so it cannot learn layer=all weights or "
                              "attention pooling; use backbone.mode=probe")
        if mode == "finetune" and lora:
            self._add_lora()
        elif mode != "finetune":
            self.encoder.requires_grad_(False)

    def _add_lora(self) -> None:
        try:
            import peft
        except ImportError:
            raise ConfigError("backbone.lora=true needs peft: pip install 'mirplug[hf]'") from None
        names = {name.rsplit(".", 1)[-1] for name, module in self.encoder.named_modules() if isinstance(module, nn.Linear)}
        targets = [name for name in _LORA_TARGETS if name in names]
        if not targets:
            raise ConfigError(f"backbone.lora=true: {self.model_name} has no attention projections named "
                              f"{', '.join(_LORA_TARGETS)}; use backbone.lora=false")
        config = peft.LoraConfig(r=8, lora_alpha=16, lora_dropout=0.0, target_modules=targets)
        self.encoder = peft.get_peft_model(self.encoder, config)

    def train(self, mode: bool = True) -> HFBackbone:
        """A fixed transformer stays in eval mode (no dropout) while the trainable parts train."""
        super().train(mode)
        if self.mode != "finetune":
            self.encoder.eval()
        return self

    def _hidden_states(self, waveform: torch.Tensor) -> list[torch.Tensor]:
        """``(batch, time)`` -> every hidden state as ``(batch, tokens, width)``."""
        if waveform.shape[1] < self.min_samples:
            if not self._warned_short:
                warnings.warn(f"hf: windows of {waveform.shape[1]} samples are shorter than {self.model_name}'s "
                              f"minimum input of {self.min_samples}; zero-padding them", stacklevel=2)
                self._warned_short = True
            waveform = nn.functional.pad(waveform, (0, self.min_samples - waveform.shape[1]))
        audio = [row for row in waveform.detach().float().cpu().numpy().astype(np.float32)]
        # the extractor computes in float32 on the CPU whatever autocast a run asked for (train.precision)
        with torch.autocast("cpu", enabled=False):
            inputs = self.extractor(audio, sampling_rate=self.sample_rate, return_tensors="pt")
        device = next(self.encoder.parameters()).device
        inputs = {key: value.to(device) for key, value in inputs.items() if key != "attention_mask"}
        outputs = self.encoder(**inputs, output_hidden_states=True)
        return [_tokens(h) for h in outputs.hidden_states]

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        waveform = features.reshape(features.shape[0], -1)
        with torch.set_grad_enabled(torch.is_grad_enabled() and self.mode == "finetune"):
            hidden = self._hidden_states(waveform)
        if self.layer is None:
            weights = self.layer_weights.softmax(dim=0)
            tokens = sum(w * h for w, h in zip(weights, hidden))
        else:
            tokens = hidden[self.layer]
        if self.attention is not None:
            return self.attention(tokens)
        if self.pooling == "max":
            return tokens.amax(dim=1)
        return tokens.mean(dim=1)
