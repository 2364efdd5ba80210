"""Built-in backbones: ``cnn`` (small CNN trained from scratch), ``mlp`` (time-pooled features),
``linear`` (linear baseline), ``musicnn`` (pretrained musicnn tagger, weights from the musicnn package),
``hf`` (transformers models), ``fused`` (frozen backbones and pooled representations, concatenated)."""

from __future__ import annotations

from mirplug import BackboneSpec, Option, hookimpl


@hookimpl
def mirplug_register_backbones() -> list[BackboneSpec]:
    """Register the built-in backbones."""
    return [
        BackboneSpec(
            name="cnn", summary="small 2-D CNN over a spectrogram, trained from scratch; clip and frame embeddings",
            factory="mirplug_builtin.backbones.cnn:SmallCNN", expects="frames",
            options=(
                Option(name="channels", type=int, default=16, minimum=1, maximum=1024,
                       help="channels of the first block"),
                Option(name="blocks", type=int, default=4, minimum=1, maximum=8, help="conv blocks"),
                Option(name="dropout", type=float, default=0.2, minimum=0.0, maximum=0.9, help="dropout before the head"),
                Option(name="pool_time", type=bool, default=True,
                       help="halve the frame rate in every block (false keeps the input frame rate, for frame tasks)"),
            ),
            license="MIT",
        ),
        BackboneSpec(
            name="mlp", summary="MLP over time-pooled features (mean and standard deviation per channel)",
            factory="mirplug_builtin.backbones.mlp:PooledMLP",
            options=(
                Option(name="hidden", type=int, default=128, minimum=1, maximum=8192, help="units per hidden layer"),
                Option(name="layers", type=int, default=2, minimum=1, maximum=8, help="hidden layers"),
                Option(name="dropout", type=float, default=0.2, minimum=0.0, maximum=0.9, help="dropout"),
            ),
            license="MIT",
        ),
        BackboneSpec(
            name="linear", summary="linear classifier over standardized features (clip-level, or mean and std over time)",
            factory="mirplug_builtin.backbones.linear:Linear",
            options=(Option(name="dropout", type=float, default=0.0, minimum=0.0, maximum=0.9,
                            help="dropout on the features"),),
            license="MIT",
        ),
        BackboneSpec(
            name="musicnn",
            summary="pretrained musicnn tagger (MSD or MagnaTagATune) ported to PyTorch; needs "
                    "`pip install --no-deps musicnn==0.1.0` for its weights",
            factory="mirplug_builtin.backbones.musicnn:Musicnn",
            expects="waveform", sample_rate=16000, head_options=("head",),
            options=(
                Option(name="weights", type=str, default="MSD", choices=("MSD", "MTT"),
                       help="MSD: Million Song Dataset tags; MTT: MagnaTagATune tags"),
                Option(name="layer", type=str, default="pool", choices=("taggram", "penultimate", "pool"),
                       help="taggram: 50 tag probabilities; penultimate: 200-d dense layer; "
                            "pool: mean + max pooled mid-end features (1506-d)"),
                Option(name="mode", type=str, default="frozen", choices=("frozen", "finetune"),
                       help="frozen: embeddings computed once, only the head trains; finetune: train all"),
                Option(name="head", type=str, default="linear", choices=("linear", "mlp", "centroid", "probe"),
                       help="head on the embedding; centroid: nearest class centroid, no training; probe: linear probe "
                            "with its regularisation chosen on held-out data (frozen only)"),
            ),
            license="ISC (musicnn weights and architecture, Jordi Pons and Xavier Serra); port Apache-2.0",
            citation="Pons and Serra, musicnn: pre-trained convolutional neural networks for music audio "
                     "tagging, ISMIR 2019 late-breaking demo, arXiv:1909.06654",
        ),
        BackboneSpec(
            name="hf",
            summary="any Hugging Face transformers audio encoder (AST, wav2vec2, HuBERT, WavLM, Whisper, CLAP, "
                    "MERT) by hub id or local folder; needs the hf extra",
            factory="mirplug_builtin.backbones.hf:HFBackbone",
            expects="waveform", sample_rate=None,  # the model's feature extractor decides
            head_options=("head",), needs_options=("model",),
            options=(
                Option(name="model", type=str, default=None, help="hub id (from the local cache) or local folder"),
                Option(name="layer", type=str, default="last",
                       help="hidden state: 0 (embeddings) .. N, 'last', or 'all' (learned weighted sum)"),
                Option(name="pooling", type=str, default="mean", choices=("mean", "max", "attention"),
                       help="how tokens become one vector"),
                Option(name="mode", type=str, default="frozen", choices=("frozen", "probe", "finetune"),
                       help="frozen: embeddings once; probe: fixed transformer, trained pooling/head; finetune: all"),
                Option(name="head", type=str, default="linear", choices=("linear", "mlp", "centroid", "probe"),
                       help="head on the embedding; centroid: nearest class centroid, no training; probe: linear probe "
                            "with its regularisation chosen on held-out data (frozen only)"),
                Option(name="lora", type=bool, default=False, help="finetune LoRA adapters (peft) instead of all weights"),
                Option(name="trust_remote_code", type=bool, default=False,
                       help="allow models that ship their own code (MERT); only for sources you trust"),
            ),
            license="Apache-2.0 (the model's own license applies to its weights)",
        ),
        BackboneSpec(
            name="fused",
            summary="frozen backbones and time-pooled representations side by side (e.g. musicnn+mfcc+chroma); "
                    "each part cached on its own; standardised by the probe head",
            factory="mirplug_builtin.backbones.fused:Fused",
            expects="waveform", sample_rate=None,  # the sample_rate option decides
            options=(
                Option(name="parts", type=str, default="musicnn+mfcc+chroma",
                       help="parts joined by '+': frozen backbones that take audio (with their default options) "
                            "and representations (pooled: mean and std over time)"),
                Option(name="sample_rate", type=int, default=16000, minimum=1000, maximum=192000,
                       help="audio is decoded at this rate; each part resamples to its own"),
                Option(name="head", type=str, default="probe", choices=("linear", "mlp", "centroid", "probe"),
                       help="head on the concatenation; probe standardises every dimension (the parts' scales "
                            "differ by orders of magnitude)"),
            ),
            license="MIT (each part keeps its own license)",
        ),
    ]
