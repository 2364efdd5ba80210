"""mirplug-pretrained: the AudioSet-era pretrained audio embeddings as mirplug backbones.

Registers ``vggish``, ``yamnet``, ``openl3`` and ``panns``. Each wants raw audio at its own sample
rate, loads its published PyTorch weights from the torch hub cache (or ``backbone.weights_path``;
downloads only with ``backbone.download=true``) and is frozen (embeddings cached) or fine-tuned.
This hook module stays light: nothing imports torch until a backbone is built. ``data=mirdata``
lives in :mod:`mirplug_pretrained.mirdata_plugin` (its own entry point, so that a missing mirdata
breaks nothing here).
"""

from __future__ import annotations

from mirplug import BackboneSpec, Option, hookimpl

__version__ = "0.1.0"

PORT = "port MIT (mirplug-pretrained)"


def _common(layers: tuple[str, ...] | None = None, layer_help: str = "") -> tuple[Option, ...]:
    options = []
    if layers:
        options.append(Option(name="layer", type=str, default=layers[0], choices=layers, help=layer_help))
    options += [
        Option(name="mode", type=str, default="frozen", choices=("frozen", "finetune"),
               help="frozen: embeddings computed once (cached), only the head trains; finetune: train all"),
        Option(name="head", type=str, default="linear", choices=("linear", "mlp", "centroid", "probe"),
               help="head on the embedding; centroid: nearest class centroid, no training; probe: linear probe "
                    "with its regularisation chosen on held-out data (frozen only)"),
        Option(name="weights_path", type=str, default=None,
               help="the weight file; default: the published file name in the torch hub cache (torch.hub.get_dir()/checkpoints)"),
        Option(name="download", type=bool, default=False,
               help="download the published weights into the torch hub cache when they are missing"),
    ]
    return tuple(options)


def _hop(default: float, help_text: str) -> Option:
    return Option(name="hop_seconds", type=float, default=default, minimum=0.01, maximum=10.0, help=help_text)


@hookimpl
def mirplug_register_backbones() -> list[BackboneSpec]:
    """Register the pretrained backbones."""
    return [
        BackboneSpec(
            name="vggish",
            summary="VGGish (AudioSet, Google): 128-d embeddings of 0.96 s log-mel patches at 16 kHz; weights "
                    "vggish_orig.pth (torch-vggish-yamnet) from the torch hub cache",
            factory="mirplug_pretrained.audioset:VGGish", expects="waveform", sample_rate=16000,
            head_options=("head",),
            options=(*_common(("embedding", "fc1"), "embedding: 128-d (TF fc2, before the AudioSet PCA); fc1: 4096-d"),
                     _hop(0.96, "seconds between patches (frame embeddings); 0.96 as VGGish")),
            license="Apache-2.0 (VGGish weights and reference code, tensorflow/models); MIT (torch-vggish-yamnet "
                    f"network and converted weights); {PORT}",
            citation="Hershey et al., CNN architectures for large-scale audio classification, ICASSP 2017",
        ),
        BackboneSpec(
            name="yamnet",
            summary="YAMNet (AudioSet, Google; MobileNet v1): 1024-d embeddings of 0.96 s patches every 0.48 s "
                    "at 16 kHz; weights yamnet.pth (torch-vggish-yamnet) from the torch hub cache",
            factory="mirplug_pretrained.audioset:YAMNet", expects="waveform", sample_rate=16000,
            head_options=("head",),
            options=(*_common(("embedding", "scores"), "embedding: 1024-d; scores: 521 AudioSet class probabilities"),
                     _hop(0.48, "seconds between patches; 0.48 as yamnet/features.py")),
            license="Apache-2.0 (YAMNet weights and reference code, tensorflow/models); MIT (torch-vggish-yamnet "
                    f"network and converted weights); {PORT}",
            citation="Plakal and Ellis, YAMNet, tensorflow/models research/audioset/yamnet, 2020; Gemmeke et al., "
                     "Audio Set, ICASSP 2017",
        ),
        BackboneSpec(
            name="openl3",
            summary="OpenL3 (L3-Net, self-supervised audio-visual correspondence): 512- or 6144-d embeddings of "
                    "1 s frames at 48 kHz; weights torchopenl3_<repr>_<content>_<dim>.pth.tar from the torch hub cache",
            factory="mirplug_pretrained.openl3:OpenL3", expects="waveform", sample_rate=48000,
            head_options=("head",),
            options=(Option(name="content_type", type=str, default="music", choices=("music", "env"),
                            help="weights trained on music videos or on environmental (AudioSet) videos"),
                     Option(name="input_repr", type=str, default="mel256", choices=("mel256", "mel128", "linear"),
                            help="the spectrogram the model was trained on"),
                     Option(name="embedding_dim", type=int, default=512, choices=(512, 6144),
                            help="512 or 6144 (the same network, pooled less)"),
                     _hop(0.1, "seconds between 1 s frames; 0.1 as openl3"),
                     Option(name="center", type=bool, default=True,
                            help="pad half a frame first, so frame i is centred at i * hop_seconds"),
                     *_common()),
            license="MIT (openl3 weights and architecture, NYU MARL); Apache-2.0 (torchopenl3 converted weights); "
                    f"{PORT}",
            citation="Cramer, Wu, Salamon and Bello, Look, listen, and learn more: design choices for deep audio "
                     "embeddings, ICASSP 2019",
        ),
        BackboneSpec(
            name="panns",
            summary="PANNs CNN14 (AudioSet tagging, mAP 0.431): 2048-d embedding of each window at 32 kHz; weights "
                    "Cnn14_mAP=0.431.pth from the torch hub cache or ~/panns_data",
            factory="mirplug_pretrained.panns:PANNs", expects="waveform", sample_rate=32000,
            head_options=("head",),
            options=_common(("embedding", "pooled", "clipwise"),
                            "embedding: fc1 (2048-d); pooled: before fc1 (2048-d); clipwise: 527 AudioSet probabilities"),
            license="MIT (audioset_tagging_cnn code, Qiuqiang Kong); CC-BY-4.0 (Zenodo record 3987831 weights); "
                    f"{PORT}",
            citation="Kong, Cao, Iqbal, Wang, Wang and Plumbley, PANNs: large-scale pretrained audio neural networks "
                     "for audio pattern recognition, IEEE/ACM TASLP 28, 2020",
        ),
    ]
