"""Tiny randomly initialised transformers audio models, saved with ``save_pretrained`` (no downloads)."""

from __future__ import annotations

import json
from pathlib import Path

FAMILIES = ("ast", "wav2vec2", "hubert", "wavlm", "whisper", "clap")
_SMALL = {"hidden_size": 32, "num_hidden_layers": 2, "num_attention_heads": 2, "intermediate_size": 37}
_CONV = {"conv_dim": (16, 16), "conv_stride": (5, 4), "conv_kernel": (10, 8), "num_conv_pos_embeddings": 16,
         "num_conv_pos_embedding_groups": 2}


def save_tiny(family: str, folder: Path) -> Path:
    """Write a tiny random ``family`` model and its feature extractor into ``folder``."""
    import torch
    import transformers as tf

    torch.manual_seed(0)
    if family == "ast":
        model = tf.ASTModel(tf.ASTConfig(**_SMALL, num_mel_bins=32, max_length=64))
        extractor = tf.ASTFeatureExtractor(num_mel_bins=32, max_length=64)
    elif family in {"wav2vec2", "hubert", "wavlm"}:
        config_class, model_class = {"wav2vec2": (tf.Wav2Vec2Config, tf.Wav2Vec2Model),
                                     "hubert": (tf.HubertConfig, tf.HubertModel),
                                     "wavlm": (tf.WavLMConfig, tf.WavLMModel)}[family]
        model = model_class(config_class(**_SMALL, **_CONV))
        extractor = tf.Wav2Vec2FeatureExtractor(sampling_rate=16000, do_normalize=True)
    elif family == "whisper":
        config = tf.WhisperConfig(d_model=32, encoder_layers=2, decoder_layers=1, encoder_attention_heads=2,
                                  decoder_attention_heads=2, encoder_ffn_dim=37, decoder_ffn_dim=37, num_mel_bins=16,
                                  max_source_positions=50, max_target_positions=16, vocab_size=64,
                                  pad_token_id=0, bos_token_id=1, eos_token_id=2, decoder_start_token_id=1,
                                  begin_suppress_tokens=None, suppress_tokens=None)
        model = tf.WhisperModel(config)
        extractor = tf.WhisperFeatureExtractor(feature_size=16, chunk_length=1)  # 1 s -> 100 frames
    elif family == "clap":
        audio = dict(depths=[1, 1], num_attention_heads=[2, 2], hidden_size=32, patch_embeds_hidden_size=16,
                     window_size=4, spec_size=64, num_mel_bins=16, projection_dim=16)
        text = dict(vocab_size=64, hidden_size=16, num_hidden_layers=1, num_attention_heads=2, intermediate_size=20,
                    projection_dim=16)
        model = tf.ClapModel(tf.ClapConfig(text_config=text, audio_config=audio, projection_dim=16))
        extractor = tf.ClapFeatureExtractor(feature_size=16, sampling_rate=48000, max_length_s=1, hop_length=480,
                                            fft_window_size=1024, truncation="rand_trunc")
    else:
        raise ValueError(family)
    folder.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(folder)
    extractor.save_pretrained(folder)
    return folder


_MERT_CONFIG = """from transformers import HubertConfig


class MERTConfig(HubertConfig):
    model_type = "mert_model"
"""
_MERT_MODEL = """from transformers import HubertModel

from .configuration_MERT import MERTConfig


class MERTModel(HubertModel):
    config_class = MERTConfig
"""


def save_remote_code_model(folder: Path) -> Path:
    """A model folder that ships its own code through ``auto_map``, laid out as MERT's hub repository is."""
    save_tiny("hubert", folder)
    config = json.loads((folder / "config.json").read_text())
    config["model_type"] = "mert_model"
    config["auto_map"] = {"AutoConfig": "configuration_MERT.MERTConfig", "AutoModel": "modeling_MERT.MERTModel"}
    (folder / "config.json").write_text(json.dumps(config))
    (folder / "configuration_MERT.py").write_text(_MERT_CONFIG)
    (folder / "modeling_MERT.py").write_text(_MERT_MODEL)
    return folder
