"""Decoding audio files to mono float32 at a target sample rate.

soundfile (libsndfile, bundled in its wheel) decodes WAV, FLAC, OGG/Vorbis, Opus and MP3
with no system package; resampling uses soxr (the SoX resampler, high quality), which is about
twice as fast on the CPU as torchaudio's sinc resampler and needs no kernel per rate pair.

Decoding is bounded by what the header says, before any sample is read: a sample rate outside
:data:`SAMPLE_RATES` (a header that says 1 Hz made an 8 KB file 256 MB at 16 kHz, and a 300 KB
one asked for 9.6 GB) and a clip longer than ``max_seconds`` (``data.max_seconds``) are refused.
A file shorter than its header promises (a WAV, AIFF or AU cut off in a copy or a download;
libsndfile reads what is there without a word) is refused as truncated, naming both lengths.

Internal module: plugin authors import ``AUDIO_EXTENSIONS`` from :mod:`mirplug`, which is the stable
API; everything else here may change in any release.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from typing import Any

import numpy as np

AUDIO_EXTENSIONS = (".wav", ".flac", ".ogg", ".oga", ".opus", ".mp3", ".aif", ".aiff", ".au")
SILENCE_PEAK = 1e-5
SAMPLE_RATES = (1000, 768_000)  # plausible native sample rates (Hz): telephony/bioacoustics to DXD
# data.max_seconds: longer clips are skipped. At 10 minutes a 44.1 kHz stereo clip takes ~360 MB while it is
# decoded (up to 8 decode at once), and songs, GTZAN's 30 s excerpts and most MIR collections fit.
DEFAULT_MAX_SECONDS = 600.0


class BadClip(Exception):
    """A clip that cannot be used; the message says why (it is reported and skipped)."""


@dataclass(frozen=True)
class Decoded:
    """A decoded clip: mono samples at ``sample_rate``."""

    samples: np.ndarray
    sample_rate: int


# PCM subtypes read as integers (dtype, scale to [-1, 1)); others are read as float32.
INTEGER_READS = {"PCM_S8": ("int16", 1.0 / 32768), "PCM_U8": ("int16", 1.0 / 32768), "PCM_16": ("int16", 1.0 / 32768),
                 "PCM_24": ("int32", 1.0 / 2147483648), "PCM_32": ("int32", 1.0 / 2147483648)}


def decode(source: str | bytes | dict[str, Any], sample_rate: int,
           max_seconds: float | None = DEFAULT_MAX_SECONDS) -> Decoded:
    """Decode a path, raw bytes or a ``{"path", "bytes"}`` audio cell to mono at ``sample_rate``.

    Raises :class:`BadClip` when the header gives an implausible sample rate, a length over
    ``max_seconds`` (``None``: no limit) or more frames than the file holds, and when the clip
    cannot be decoded, is empty, silent or holds NaN.
    """
    import soundfile

    if isinstance(source, dict):
        source = source.get("bytes") or source.get("path") or ""
    target: Any = io.BytesIO(source) if isinstance(source, bytes) else source
    try:
        with soundfile.SoundFile(target) as handle:
            native_rate, channels = handle.samplerate, handle.channels
            check_header(native_rate, handle.frames, handle.format, source, max_seconds)
            # libsndfile's conversion of PCM to float is slow: read integers and scale them here
            # (4x faster for 16-bit WAV; same values: libsndfile also divides by 2**15 or 2**31).
            integer = INTEGER_READS.get(handle.subtype)
            samples = handle.read(dtype=integer[0] if integer else "float32", always_2d=True)
    except BadClip:
        raise
    except Exception as exc:
        # soundfile repeats what it was given ("Error opening '/x.wav': Format not recognised.", or for bytes
        # "Error opening <_io.BytesIO object at 0x7f...>: ..."): keep the reason, not a path or an address that
        # would make skipped.csv differ from run to run (the row names the file).
        reason = (str(exc).splitlines() or [type(exc).__name__])[0]
        if reason.startswith("Error opening "):
            reason = reason.rpartition(": ")[2]
        raise BadClip(f"cannot decode: {reason}") from None
    if samples.size == 0:
        raise BadClip("empty: no samples")
    if channels == 1:
        mono = samples[:, 0].astype(np.float32)  # also the int -> float conversion (a copy)
    else:
        mono = samples.astype(np.float32) @ np.full(channels, 1.0 / channels, dtype=np.float32)
    if integer:
        mono *= np.float32(integer[1])
    peak = float(np.max(np.abs(mono)))  # NaN and inf propagate: one pass checks both
    if not np.isfinite(peak):
        raise BadClip("holds NaN or infinite samples")
    if peak < SILENCE_PEAK:
        raise BadClip("silent: peak below -100 dBFS")
    return Decoded(resample(mono, int(native_rate), sample_rate), sample_rate)


def check_header(native_rate: int, frames: int, container: str, source: str | bytes,
                 max_seconds: float | None) -> None:
    """Refuse, from the header alone, a clip whose decoding would be wrong or unbounded (see the module)."""
    low, high = SAMPLE_RATES
    if not low <= native_rate <= high:
        raise BadClip(f"implausible sample rate in the header: {native_rate} Hz (expected {low} to {high} Hz); "
                      f"the header is damaged")
    promised = declared_frames(source, container)
    if promised is not None and promised > frames:
        raise BadClip(f"truncated: the header promises {promised} frames ({promised / native_rate:.2f} s), "
                      f"the file holds {frames} ({frames / native_rate:.2f} s)")
    if max_seconds is not None and frames > max_seconds * native_rate:
        raise BadClip(f"longer than data.max_seconds={max_seconds:g}: {frames / native_rate:.1f} s; raise "
                      f"data.max_seconds to use it")


# AU encodings -> bytes per sample (https://en.wikipedia.org/wiki/Au_file_format)
_AU_BYTES = {1: 1, 2: 1, 3: 2, 4: 3, 5: 4, 6: 4, 7: 8, 27: 1}
_UNKNOWN_SIZES = (0, 0xFFFFFFFF)  # streaming writers leave the data size unset: nothing to compare


def declared_frames(source: str | bytes, container: str) -> int | None:
    """The frames the header of a WAV, AIFF or AU file promises, or ``None`` where it does not say.

    libsndfile reports the frames the file actually holds (it clips a declared size to the
    file's length), so the two differ exactly when the file was cut short.
    """
    if container not in ("WAV", "AIFF", "AU"):
        return None
    try:
        with (io.BytesIO(source) if isinstance(source, bytes) else open(source, "rb")) as stream:
            if container == "AU":
                head = stream.read(24)
                if len(head) < 24 or head[:4] != b".snd":
                    return None
                size, encoding, _, channels = (int.from_bytes(head[i:i + 4], "big") for i in (8, 12, 16, 20))
                width = _AU_BYTES.get(encoding)
                return size // (width * channels) if width and channels and size not in _UNKNOWN_SIZES else None
            return _chunked_frames(stream, container)
    except (OSError, ValueError):
        return None


def _chunked_frames(stream: Any, container: str) -> int | None:
    """Walk the RIFF (WAV) or IFF (AIFF) chunks: the data chunk's size over the frame size, or COMM's count."""
    head = stream.read(12)
    order = "little" if head[:4] == b"RIFF" else "big" if head[:4] in (b"RIFX", b"FORM") else None
    if order is None or (container == "WAV") != (head[8:12] == b"WAVE"):
        return None  # RF64, W64 and others: sizes live elsewhere
    block_align = None
    for _ in range(10_000):
        chunk = stream.read(8)
        if len(chunk) < 8:
            return None
        name, size = chunk[:4], int.from_bytes(chunk[4:8], order)
        if container == "AIFF" and name == b"COMM":
            body = stream.read(6)
            return int.from_bytes(body[2:6], "big") if len(body) == 6 else None
        if name == b"fmt ":
            body = stream.read(size)
            block_align = int.from_bytes(body[12:14], order) if len(body) >= 14 else None
            stream.seek(size & 1, 1)
            continue
        if name == b"data":
            if size in _UNKNOWN_SIZES or not block_align:
                return None
            return size // block_align
        stream.seek(size + (size & 1), 1)  # chunks are padded to an even size
    return None


def resample(samples: np.ndarray, from_rate: int, to_rate: int) -> np.ndarray:
    """Band-limited resampling of a mono signal (a no-op when the rates match)."""
    if from_rate == to_rate:
        return np.ascontiguousarray(samples, dtype=np.float32)
    import soxr

    return soxr.resample(np.ascontiguousarray(samples, dtype=np.float32), from_rate, to_rate, quality="HQ")
