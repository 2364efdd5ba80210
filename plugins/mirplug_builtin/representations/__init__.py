"""Built-in representations: ``waveform``, ``stft``, ``mel``, ``mfcc``, ``cqt`` and ``chroma`` (batched torch)."""

from __future__ import annotations

from mirplug import Option, RepresentationSpec, hookimpl

# Maxima keep a typo from asking for gigabytes: resampling to 10 MHz or a 2**24-point FFT would.
SAMPLE_RATE = Option(name="sample_rate", type=int, default=16000, minimum=1000, maximum=192000,
                     help="audio is resampled to this")
N_FFT = Option(name="n_fft", type=int, default=512, minimum=16, maximum=65536, help="FFT size in samples")
HOP = Option(name="hop_length_ms", type=float, default=20.0, minimum=0.1, maximum=10000.0, help="hop between frames")
CQT_OPTIONS = (
    Option(name="hop_length_ms", type=float, default=20.0, minimum=0.0, maximum=10000.0, help="hop between frames"),
    Option(name="f_min", type=float, default=32.70, minimum=0.0, help="centre of the lowest bin (Hz; 32.70 = C1)"),
    Option(name="n_bins", type=int, default=84, minimum=1, maximum=1024,
           help="number of bins (84 = 7 octaves at 12 per octave)"),
    Option(name="bins_per_octave", type=int, default=12, minimum=1, maximum=120, help="bins per octave"),
)


@hookimpl
def mirplug_register_representations() -> list[RepresentationSpec]:
    """Register the built-in representations."""
    return [
        RepresentationSpec(
            name="waveform", summary="the raw waveform, one channel",
            factory="mirplug_builtin.representations.waveform:Waveform",
            options=(SAMPLE_RATE,), license="MIT",
        ),
        RepresentationSpec(
            name="stft", summary="log-magnitude short-time Fourier transform",
            factory="mirplug_builtin.representations.stft:LogSTFT",
            options=(SAMPLE_RATE, N_FFT, HOP), license="MIT",
        ),
        RepresentationSpec(
            name="mel", summary="log-mel spectrogram (dB)",
            factory="mirplug_builtin.representations.mel:LogMel",
            options=(SAMPLE_RATE, N_FFT, HOP,
                     Option(name="n_mels", type=int, default=64, minimum=1, maximum=1024, help="mel bands"),
                     Option(name="f_min", type=float, default=0.0, minimum=0.0, help="lowest frequency (Hz)"),
                     Option(name="f_max", type=float, default=None, help="highest frequency (Hz; default Nyquist)")),
            license="MIT",
        ),
        RepresentationSpec(
            name="mfcc", summary="mel-frequency cepstral coefficients",
            factory="mirplug_builtin.representations.mfcc:MFCC",
            options=(SAMPLE_RATE, N_FFT, HOP,
                     Option(name="n_mfcc", type=int, default=20, minimum=1, maximum=1024, help="coefficients"),
                     Option(name="n_mels", type=int, default=64, minimum=1, maximum=1024, help="mel bands")),
            license="MIT",
        ),
        RepresentationSpec(
            name="cqt", summary="constant-Q transform magnitude (dB), log-spaced bins from f_min",
            factory="mirplug_builtin.representations.cqt:CQT",
            options=(SAMPLE_RATE, *CQT_OPTIONS,
                     Option(name="log", type=bool, default=True, help="magnitude in dB (false: linear)")),
            license="MIT",
        ),
        RepresentationSpec(
            name="chroma", summary="12 pitch classes (C..B) folded from the constant-Q transform",
            factory="mirplug_builtin.representations.chroma:Chroma",
            options=(SAMPLE_RATE, *CQT_OPTIONS,
                     Option(name="normalize", type=bool, default=True, help="divide each frame by its largest class")),
            license="MIT",
        ),
    ]
