"""Built-in augmenters: waveform transforms from torch-audiomentations (``gain``, ``timeshift``,
``pitch_shift``, ``lowpass``, ``highpass``, ``bandpass``, ``colored_noise``, ``impulse_response``,
``polarity_inversion``; see :mod:`.waveform`), ``noise`` (white noise), ``specaugment`` (features),
``vae`` and ``gan`` (generators fitted on the training split), ``embedding_gaussian`` and
``embedding_smote`` (generators in a frozen backbone's embedding space)."""

from __future__ import annotations

from mirplug import AugmenterSpec, Option, hookimpl

P = Option(name="p", type=float, default=0.5, minimum=0.0, maximum=1.0, help="probability of applying it")
TA_LICENSE = "MIT"  # the wrapper and torch-audiomentations alike
TA_CITATION = "Jordal et al., torch-audiomentations, https://github.com/asteroid-team/torch-audiomentations"
WRAPPED = "mirplug_builtin.augmenters.waveform"


def hz(name: str, default: float, help: str) -> Option:
    """A frequency option in Hz."""
    return Option(name=name, type=float, default=default, minimum=1.0, maximum=96_000.0, help=help)


EMBEDDING_SAMPLING = (
    Option(name="per_class", type=int, default=0, minimum=0, maximum=100_000,
           help="synthetic embedding rows added to every class"),
    Option(name="balance", type=bool, default=False, help="bring every class up to the largest"),
)


def generator_options(steps: int, latent_dim: int, lr: float) -> tuple[Option, ...]:
    """The options every built-in generator takes; the defaults of training length, latent size and
    learning rate differ per model (each default fits one generator on ~36 clips of 3 s in about
    2 minutes on 2 CPU cores)."""
    return (
        Option(name="per_class", type=int, default=0, minimum=0, maximum=100_000,
               help="synthetic clips added to every class"),
        Option(name="balance", type=bool, default=False, help="bring every class up to the largest"),
        Option(name="steps", type=int, default=steps, minimum=1, maximum=1_000_000, help="training steps"),
        Option(name="latent_dim", type=int, default=latent_dim, minimum=1, maximum=4096,
               help="size of the latent vector"),
        Option(name="lr", type=float, default=lr, minimum=0.0, maximum=10.0, help="Adam learning rate"),
        Option(name="batch_size", type=int, default=16, minimum=1, maximum=4096, help="training clips per step"),
        Option(name="checkpoint", type=str, default="",
               help="folder of a fitted generator (generator.json + generator.safetensors) to reuse"),
        Option(name="min_clips_per_class", type=int, default=4, minimum=1,
               help="refuse to fit when a class has fewer training clips"),
        Option(name="filter_confidence", type=float, default=0.0, minimum=0.0, maximum=1.0,
               help="keep synthetic clips a real-data classifier assigns to their class with at least this "
                    "confidence (0 = keep all)"),
        Option(name="cache", type=bool, default=True,
               help="reuse a generator already fitted on the same clips with the same options and seed"),
    )


QUICK = {"steps": 3}  # mirplug validate fits a generator for a few steps only


@hookimpl
def mirplug_register_augmenters() -> list[AugmenterSpec]:
    """Register the built-in augmenters."""
    return [
        AugmenterSpec(
            name="gain", summary="multiply by a random gain in dB (torch-audiomentations Gain)", stage="waveform",
            factory=f"{WRAPPED}:Gain",
            options=(P, Option(name="min_gain_db", type=float, default=-12.0, minimum=-120.0, maximum=120.0),
                     Option(name="max_gain_db", type=float, default=12.0, minimum=-120.0, maximum=120.0)),
            license=TA_LICENSE, citation=TA_CITATION,
        ),
        AugmenterSpec(
            name="noise", summary="add white noise at a random signal-to-noise ratio", stage="waveform",
            factory="mirplug_builtin.augmenters.noise:Noise",
            options=(P, Option(name="min_snr_db", type=float, default=10.0, minimum=-120.0, maximum=200.0),
                     Option(name="max_snr_db", type=float, default=40.0, minimum=-120.0, maximum=200.0)),
            license="MIT",
        ),
        AugmenterSpec(
            name="timeshift", summary="shift in time by a random fraction of the clip (torch-audiomentations Shift)",
            stage="waveform", factory=f"{WRAPPED}:Shift",
            options=(P, Option(name="max_shift_fraction", type=float, default=0.5, minimum=0.0, maximum=1.0),
                     Option(name="rollover", type=bool, default=True, help="wrap around (else pad with zeros)")),
            license=TA_LICENSE, citation=TA_CITATION,
        ),
        AugmenterSpec(
            name="pitch_shift", summary="transpose without changing the tempo (torch-audiomentations PitchShift)",
            stage="waveform", factory=f"{WRAPPED}:PitchShift",
            options=(P, Option(name="min_transpose_semitones", type=float, default=-4.0, minimum=-24.0, maximum=24.0),
                     Option(name="max_transpose_semitones", type=float, default=4.0, minimum=-24.0, maximum=24.0)),
            license=TA_LICENSE, citation=TA_CITATION,
        ),
        AugmenterSpec(
            name="lowpass", summary="low-pass filter at a random cut-off (torch-audiomentations LowPassFilter)",
            stage="waveform", factory=f"{WRAPPED}:LowPass",
            options=(P, hz("min_cutoff_hz", 150.0, "lowest cut-off"), hz("max_cutoff_hz", 7500.0, "highest cut-off")),
            license=TA_LICENSE, citation=TA_CITATION,
        ),
        AugmenterSpec(
            name="highpass", summary="high-pass filter at a random cut-off (torch-audiomentations HighPassFilter)",
            stage="waveform", factory=f"{WRAPPED}:HighPass",
            options=(P, hz("min_cutoff_hz", 20.0, "lowest cut-off"), hz("max_cutoff_hz", 2400.0, "highest cut-off")),
            license=TA_LICENSE, citation=TA_CITATION,
        ),
        AugmenterSpec(
            name="bandpass",
            summary="band-pass filter around a random centre frequency (torch-audiomentations BandPassFilter)",
            stage="waveform", factory=f"{WRAPPED}:BandPass",
            options=(P, hz("min_center_hz", 200.0, "lowest centre frequency"),
                     hz("max_center_hz", 4000.0, "highest centre frequency"),
                     Option(name="min_bandwidth_fraction", type=float, default=0.5, minimum=0.01, maximum=1.99,
                            help="narrowest band, as a fraction of the centre frequency"),
                     Option(name="max_bandwidth_fraction", type=float, default=1.99, minimum=0.01, maximum=1.99,
                            help="widest band, as a fraction of the centre frequency")),
            license=TA_LICENSE, citation=TA_CITATION,
        ),
        AugmenterSpec(
            name="colored_noise",
            summary="add 1/f^decay noise (white 0, pink 1, brown 2) at a random SNR (torch-audiomentations "
                    "AddColoredNoise)",
            stage="waveform", factory=f"{WRAPPED}:ColoredNoise",
            options=(P, Option(name="min_snr_db", type=float, default=3.0, minimum=-120.0, maximum=200.0),
                     Option(name="max_snr_db", type=float, default=30.0, minimum=-120.0, maximum=200.0),
                     Option(name="min_f_decay", type=float, default=-2.0, minimum=-10.0, maximum=10.0,
                            help="noise power falls as 1/f^f_decay"),
                     Option(name="max_f_decay", type=float, default=2.0, minimum=-10.0, maximum=10.0)),
            license=TA_LICENSE, citation=TA_CITATION,
        ),
        AugmenterSpec(
            name="impulse_response",
            summary="convolve with an impulse response from a folder (torch-audiomentations ApplyImpulseResponse)",
            stage="waveform", factory=f"{WRAPPED}:ImpulseResponse", needs_options=("path",),
            options=(P, Option(name="path", type=str, default=None,
                               help="folder (searched recursively) or file of impulse responses (WAV, FLAC, ...)"),
                     Option(name="compensate_delay", type=bool, default=True,
                            help="align the output with the input (skip the response's delay to its peak)")),
            license=TA_LICENSE, citation=TA_CITATION,
        ),
        AugmenterSpec(
            name="polarity_inversion", summary="multiply by -1 (torch-audiomentations PolarityInversion)",
            stage="waveform", factory=f"{WRAPPED}:PolarityInversion", options=(P,),
            license=TA_LICENSE, citation=TA_CITATION,
        ),
        AugmenterSpec(
            name="specaugment", summary="mask random frequency bands and time spans of the features",
            stage="features", factory="mirplug_builtin.augmenters.specaugment:SpecAugment",
            options=(P, Option(name="freq_masks", type=int, default=2, minimum=0, maximum=100),
                     Option(name="max_freq_width", type=int, default=8, minimum=1, maximum=100_000),
                     Option(name="time_masks", type=int, default=2, minimum=0, maximum=100),
                     Option(name="max_time_width", type=int, default=20, minimum=1, maximum=100_000)),
            license="MIT", citation="Park et al., SpecAugment, Interspeech 2019",
        ),
        AugmenterSpec(
            name="vae", summary="class-conditional VAE over log-mel images, inverted to audio with Griffin-Lim",
            stage="generator", factory="mirplug_builtin.augmenters.vae:VAEGenerator",
            options=generator_options(steps=1000, latent_dim=32, lr=1e-3), quick_options=QUICK,
            license="MIT", citation="Sohn, Lee and Yan, Learning Structured Output Representation using Deep "
                                    "Conditional Generative Models, NeurIPS 2015",
        ),
        AugmenterSpec(
            name="gan",
            summary="class-conditional GAN (hinge loss, spectral norm) over log-mel images, inverted to audio "
                    "with Griffin-Lim",
            stage="generator", factory="mirplug_builtin.augmenters.gan:GANGenerator",
            options=generator_options(steps=500, latent_dim=64, lr=2e-4), quick_options=QUICK,
            license="MIT",
            citation="Miyato et al., Spectral Normalization for Generative Adversarial Networks, ICLR 2018; "
                     "Miyato and Koyama, cGANs with Projection Discriminator, ICLR 2018",
        ),
        AugmenterSpec(
            name="embedding_gaussian",
            summary="class-conditional Gaussian in a frozen backbone's embedding space (Ledoit-Wolf shrunk "
                    "covariance); adds embedding rows to the training split, no audio",
            stage="embeddings", factory="mirplug_builtin.augmenters.embedding:GaussianEmbeddings",
            options=(*EMBEDDING_SAMPLING,
                     Option(name="covariance", type=str, default="shared", choices=("shared", "per_class"),
                            help="one covariance for all classes (centred per class) or one per class"),
                     Option(name="scale", type=float, default=1.0, minimum=0.0, maximum=10.0,
                            help="multiplies the spread around each class mean")),
            license="MIT", citation="Ledoit and Wolf, A well-conditioned estimator for large-dimensional "
                                    "covariance matrices, J. Multivariate Analysis 2004",
        ),
        AugmenterSpec(
            name="embedding_smote",
            summary="SMOTE in a frozen backbone's embedding space: new rows between a training row and a "
                    "same-class neighbour; no audio",
            stage="embeddings", factory="mirplug_builtin.augmenters.embedding:SmoteEmbeddings",
            options=(*EMBEDDING_SAMPLING,
                     Option(name="neighbours", type=int, default=5, minimum=1, maximum=1000,
                            help="nearest same-class rows a new row may lie towards")),
            license="MIT", citation="Chawla et al., SMOTE: Synthetic Minority Over-sampling Technique, JAIR 2002",
        ),
    ]
