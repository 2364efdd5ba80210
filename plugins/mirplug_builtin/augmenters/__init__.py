"""Built-in augmenters: ``gain``, ``noise``, ``timeshift`` (waveform) and ``specaugment`` (features)."""

from __future__ import annotations

from mirplug.hookspecs import hookimpl
from mirplug.specs import AugmenterSpec, Option

P = Option(name="p", type=float, default=0.5, minimum=0.0, maximum=1.0, help="probability of applying it")


@hookimpl
def mirplug_register_augmenters() -> list[AugmenterSpec]:
    """Register the built-in augmenters."""
    return [
        AugmenterSpec(
            name="gain", summary="multiply by a random gain in dB", stage="waveform",
            factory="mirplug_builtin.augmenters.gain:Gain",
            options=(P, Option(name="min_gain_db", type=float, default=-12.0),
                     Option(name="max_gain_db", type=float, default=12.0)),
            license="MIT",
        ),
        AugmenterSpec(
            name="noise", summary="add white noise at a random signal-to-noise ratio", stage="waveform",
            factory="mirplug_builtin.augmenters.noise:Noise",
            options=(P, Option(name="min_snr_db", type=float, default=10.0),
                     Option(name="max_snr_db", type=float, default=40.0)),
            license="MIT",
        ),
        AugmenterSpec(
            name="timeshift", summary="shift in time by a random fraction of the clip, rolling over",
            stage="waveform", factory="mirplug_builtin.augmenters.timeshift:TimeShift",
            options=(P, Option(name="max_shift_fraction", type=float, default=0.5, minimum=0.0, maximum=1.0),
                     Option(name="rollover", type=bool, default=True, help="wrap around (else pad with zeros)")),
            license="MIT",
        ),
        AugmenterSpec(
            name="specaugment", summary="mask random frequency bands and time spans of the features",
            stage="features", factory="mirplug_builtin.augmenters.specaugment:SpecAugment",
            options=(P, Option(name="freq_masks", type=int, default=2, minimum=0),
                     Option(name="max_freq_width", type=int, default=8, minimum=1),
                     Option(name="time_masks", type=int, default=2, minimum=0),
                     Option(name="max_time_width", type=int, default=20, minimum=1)),
            license="MIT", citation="Park et al., SpecAugment, Interspeech 2019",
        ),
    ]
