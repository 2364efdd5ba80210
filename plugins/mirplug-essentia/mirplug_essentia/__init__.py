"""mirplug-essentia: Essentia's handcrafted descriptors as mirplug representations (AGPL-3.0).

Registers ``essentia`` (a clip-level descriptor vector with named dimensions) and
``essentia-frames`` (frame-level descriptors). Nothing is imported from Essentia until a
representation is built, so listing plugins stays fast.
"""

from __future__ import annotations

from mirplug import Option, RepresentationSpec, hookimpl

__version__ = "0.1.0"

CITATION = (
    "Bogdanov, D. et al. (2013). Essentia: an audio analysis library for music information retrieval. "
    "In Proc. ISMIR, pp. 493-498."
)
OPTIONS = (
    Option(name="sample_rate", type=int, default=44100, minimum=8000, maximum=192000, help="audio is resampled to this"),
    Option(name="frame_samples", type=int, default=2048, minimum=64, maximum=65536,
           help="analysis frame length in samples"),
    Option(name="hop_samples", type=int, default=1024, minimum=1, maximum=65536, help="hop between frames in samples"),
)


@hookimpl
def mirplug_register_representations() -> list[RepresentationSpec]:
    """Register the Essentia representations."""
    return [
        RepresentationSpec(
            name="essentia",
            summary="clip-level descriptors: MFCC/GFCC, spectral, ZCR, loudness, HPCP stats, key, BPM, "
                    "onset rate, danceability",
            factory="mirplug_essentia.representations:EssentiaClip",
            options=OPTIONS, license="AGPL-3.0-or-later", citation=CITATION,
        ),
        RepresentationSpec(
            name="essentia-frames",
            summary="frame-level Essentia descriptors (MFCC, GFCC, spectral shape, ZCR, loudness, HPCP)",
            factory="mirplug_essentia.representations:EssentiaFrames",
            options=OPTIONS, license="AGPL-3.0-or-later", citation=CITATION,
        ),
    ]
