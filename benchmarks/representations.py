"""Benchmark: decode + log-mel with mirplug's batched path, a per-file librosa loop and per-file Essentia.

Writes N music-like audio files (mirplug's procedural generator, varied lengths, WAV and FLAC,
at least ``--minutes`` of audio in all) to a temporary folder, once at 44.1 kHz and once at
16 kHz, then times each path from file to 64-band log-mel at 16 kHz (n_fft 512, hop 20 ms),
each on one core and then on both cores (mirplug: decode threads + torch threads; librosa: two
worker processes), best of ``--repeat`` runs, and prints realtime factors (seconds of audio per
wall second) and ratios; a row shows how much of mirplug's time is decoding and resampling alone
(the same libsndfile and soxr calls librosa makes). It then times
``mirplug run task=genre`` (subprocesses, fresh ``MIRPLUG_CACHE_DIR``) cold, warm, and with the
dataset on disk but the feature cache cleared, for the default mel + CNN (training dominates: the
cache cannot remove it), ``backbone=musicnn`` (frozen: features and embeddings are cached) and
``representation=essentia backbone=linear`` when musicnn / Essentia are installed.

    python benchmarks/representations.py [--files 40] [--minutes 10] [--repeat 5] [--skip-runs]
"""

from __future__ import annotations

import argparse
import math
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

# The in-process rows run on one thread unless they say otherwise; `mirplug run` and `mirplug extract`
# subprocesses get the caller's environment, as a user's command would.
USER_ENV = dict(os.environ)
os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("MKL_NUM_THREADS", "1")

import numpy as np  # noqa: E402

SAMPLE_RATE = 16000
FILE_RATE = 44100
N_FFT = 512
HOP = 320
N_MELS = 64
DEVICE = "cpu"  # --device: where mirplug computes the mel (decoding is always on the CPU)


def write_files(folder: Path, n_files: int, minutes: float, rate: int = FILE_RATE) -> float:
    """Write ``n_files`` clips of varied length (at least ``minutes`` in all) at ``rate``; returns total seconds."""
    import soundfile

    from mirplug_builtin.datasets.synth import STYLES, generate_clip

    mean_seconds = max(minutes * 60.0 / n_files, 1.0)
    rng = np.random.default_rng(0)
    lengths = rng.uniform(0.4 * mean_seconds, 1.6 * mean_seconds, n_files)
    lengths *= max(1.0, minutes * 60.0 / lengths.sum())  # never less than the minimum in all
    total = 0.0
    for index, seconds in enumerate(lengths):
        samples, _ = generate_clip(index % len(STYLES), 0, index, float(seconds), rate)
        samples = samples[:int(seconds * rate)]
        suffix = "flac" if index % 4 == 3 else "wav"
        # two label folders, so the files also form an audiofolder dataset for `mirplug extract`
        path = folder / ("a" if index % 2 else "b") / f"clip{index:03d}.{suffix}"
        path.parent.mkdir(parents=True, exist_ok=True)
        soundfile.write(str(path), samples, rate)
        total += len(samples) / rate
    return total


def mirplug_batched(paths: list[Path], threads: int = 1) -> int:
    """mirplug without its cache: decode (soundfile + soxr), cut into 3 s windows, log-mel.

    As a run does on the CPU (:func:`mirplug.windows.decode_cells` with a featurizer), each clip's
    windows are featurized by the thread that decoded them, torch running one thread per
    decoding thread; with ``--device cuda`` the clips are decoded by ``threads`` threads and
    all windows featurized in batches on the GPU.
    """
    from concurrent.futures import ThreadPoolExecutor

    import torch

    from mirplug.audio import decode
    from mirplug.inference import featurize
    from mirplug.windows import window_starts
    from mirplug_builtin.representations.mel import LogMel

    mel = LogMel(sample_rate=SAMPLE_RATE, n_fft=N_FFT, hop_length_ms=1000.0 * HOP / SAMPLE_RATE, n_mels=N_MELS)
    length = 3 * SAMPLE_RATE
    on_cpu = torch.device(DEVICE).type == "cpu"

    def windows_of(path: Path) -> torch.Tensor:
        samples = decode(str(path), SAMPLE_RATE).samples
        waves = np.stack([w for _, w in window_starts(samples, length, math.ceil(len(samples) / length))])
        return featurize(mel, torch.from_numpy(waves), DEVICE) if on_cpu else torch.from_numpy(waves)

    torch.set_num_threads(1)
    with ThreadPoolExecutor(threads, initializer=torch.set_num_threads, initargs=(1,)) as pool:
        parts = list(pool.map(windows_of, paths))
    features = torch.cat(parts) if on_cpu else featurize(mel, torch.cat(parts), DEVICE)
    return int(features.shape[0] * features.shape[2])


def mirplug_decode_only(paths: list[Path], threads: int = 2) -> int:
    """mirplug's decode + resample alone (``threads`` decoding threads): the floor under its mel rows.

    Returns 0: no frames are computed (the row prints what it is instead of a frame count).
    """
    from concurrent.futures import ThreadPoolExecutor

    from mirplug.audio import decode

    with ThreadPoolExecutor(max_workers=threads) as pool:
        list(pool.map(lambda p: decode(str(p), SAMPLE_RATE), paths))
    return 0


def _librosa_file(path: Path) -> int:
    import librosa

    samples, _ = librosa.load(str(path), sr=SAMPLE_RATE, mono=True)
    mel = librosa.feature.melspectrogram(y=samples, sr=SAMPLE_RATE, n_fft=N_FFT, hop_length=HOP, n_mels=N_MELS)
    return int(librosa.power_to_db(mel).shape[1])


def librosa_processes(paths: list[Path], processes: int = 2) -> int:
    """The librosa loop split over ``processes`` worker processes (started before timing by a warm-up)."""
    return sum(_POOL.map(_librosa_file, paths, chunksize=1)) if _POOL is not None else 0


_POOL = None


def mirplug_cached(paths: list[Path]) -> int:
    """mirplug with its feature cache (``mirplug.cache``), as runs and ``mirplug extract`` use it."""
    from mirplug import cache, inference
    from mirplug import windows as windowing
    from mirplug_builtin.representations.mel import LogMel

    mel = LogMel(sample_rate=SAMPLE_RATE, n_fft=N_FFT, hop_length_ms=1000.0 * HOP / SAMPLE_RATE, n_mels=N_MELS)
    settings = cache.representation_settings("mel", {"n_mels": N_MELS}, mel, 3.0, 1000)
    windows = windowing.decode_cells([{"path": str(p)} for p in paths], [p.name for p in paths], SAMPLE_RATE, 3.0,
                                 1000, "bench", windowing.min_samples_of(mel), None, cache.feature_store(settings),
                                 inference.featurizer_while_decoding(mel, DEVICE))
    features = inference.featurize_cached(mel, settings, windows, DEVICE)
    return int(features.shape[0] * features.shape[2])


def librosa_loop(paths: list[Path]) -> int:
    """librosa: load (soxr resampling) and melspectrogram + power_to_db, one file at a time."""
    return sum(_librosa_file(path) for path in paths)


def essentia_loop(paths: list[Path]) -> int:
    """Essentia: MonoLoader, then Windowing + Spectrum + MelBands + log per frame, one file at a time."""
    import essentia
    import essentia.standard as es

    essentia.log.infoActive = False
    window = es.Windowing(type="hann", size=N_FFT)
    spectrum = es.Spectrum(size=N_FFT)
    bands = es.MelBands(inputSize=N_FFT // 2 + 1, sampleRate=SAMPLE_RATE, numberBands=N_MELS, type="power",
                        highFrequencyBound=SAMPLE_RATE / 2)
    frames = 0
    for path in paths:
        samples = es.MonoLoader(filename=str(path), sampleRate=SAMPLE_RATE)()
        for frame in es.FrameGenerator(samples, frameSize=N_FFT, hopSize=HOP, startFromZero=False):
            np.log10(bands(spectrum(window(frame))) + 1e-10)
            frames += 1
    return frames


def timed(function: Callable[[list[Path]], int], paths: list[Path], repeat: int = 1) -> tuple[float, int]:
    """The best wall time of ``repeat`` calls (as ``timeit`` reports) and the frames computed."""
    best, frames = math.inf, 0
    for _ in range(repeat):
        started = time.perf_counter()
        frames = function(paths)
        best = min(best, time.perf_counter() - started)
    return best, frames


def mirplug_run(overrides: list[str], cache: Path, out: Path) -> float:
    """Wall seconds of one ``mirplug run`` subprocess with ``cache`` as its cache folder."""
    command = [str(Path(sys.executable).parent / "mirplug"), "run", *overrides, f"out={out}"]
    env = {**USER_ENV, "MIRPLUG_CACHE_DIR": str(cache), "HF_HUB_OFFLINE": "1"}
    started = time.perf_counter()
    done = subprocess.run(command, env=env, capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"mirplug run {' '.join(overrides)} failed:\n{done.stderr[-2000:]}")
    return time.perf_counter() - started


def main() -> None:
    """Run the benchmark and print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=40, help="number of audio files")
    parser.add_argument("--minutes", type=float, default=10.0, help="minimum total audio, in minutes")
    parser.add_argument("--skip-runs", action="store_true", help="skip the cold/warm mirplug run timings")
    parser.add_argument("--device", default="cpu", help="torch device of mirplug's mel (e.g. cuda)")
    parser.add_argument("--repeat", type=int, default=5,
                        help="times each in-process row is run; the best time is reported (a shared VM is noisy)")
    args = parser.parse_args()
    global DEVICE
    DEVICE = args.device

    import torch

    torch.set_num_threads(1)  # one core unless a row says otherwise, so the ratios compare implementations
    folder = Path(tempfile.mkdtemp(prefix="mirplug-bench-"))
    try:
        global _POOL
        import multiprocessing

        _POOL = multiprocessing.get_context("spawn").Pool(2)
        try:
            import essentia  # noqa: F401

            has_essentia = True
        except ImportError:
            has_essentia = False
            print("essentia is not installed: its row is skipped (pip install essentia)")
        # 44.1 kHz files (CD audio: both paths resample with soxr) and files already at the
        # model's 16 kHz (MagnaTagATune-style: nothing to resample, so the mel's share shows).
        for rate in (FILE_RATE, SAMPLE_RATE):
            audio = folder / f"audio-{rate}"
            audio_seconds = write_files(audio, args.files, args.minutes, rate)
            paths = sorted(audio.glob("*/clip*"))
            what = "decode + resample" if rate != SAMPLE_RATE else "decode (no resampling)"
            print(f"{len(paths)} files, {audio_seconds / 60:.1f} min of audio at {rate} Hz (WAV and FLAC), "
                  f"{what} to {SAMPLE_RATE} Hz + {N_MELS}-band log-mel (mirplug: mel on {DEVICE}); "
                  f"best of {args.repeat}")
            contenders: list[tuple[str, Callable[[list[Path]], int]]] = [
                ("mirplug batched", mirplug_batched), ("librosa per file", librosa_loop),
                ("mirplug 2 threads", lambda p: mirplug_batched(p, 2)), ("librosa 2 processes", librosa_processes),
                ("  of which decoding", mirplug_decode_only)]
            if has_essentia and rate == FILE_RATE:
                contenders.append(("essentia per file", essentia_loop))
            timings = {}
            for name, function in contenders:
                function(paths[:2])  # warm up imports, caches and both workers outside the timing
                seconds, frames = timed(function, paths, args.repeat)
                timings[name] = seconds
                print(f"  {name:19s} {seconds:6.2f} s  realtime x{audio_seconds / seconds:7.0f}  "
                      + (f"({frames} frames)" if frames else "(mirplug 2 threads' decode + resample alone)"))
            if rate == FILE_RATE:
                os.environ["MIRPLUG_CACHE_DIR"] = str(folder / "cache-bench")
                from mirplug.windows import decode_threads

                cache_threads = decode_threads()
                for label in ("cold", "warm"):
                    seconds, frames = timed(mirplug_cached, paths)
                    timings[f"mirplug cache {label}"] = seconds
                    print(f"  {'mirplug cache ' + label:19s} {seconds:6.2f} s  realtime "
                          f"x{audio_seconds / seconds:7.0f}  ({frames} frames; {cache_threads} decoding threads"
                          + (", windows and features written)" if label == "cold" else ", features read)"))
            for ours, theirs in (("mirplug batched", "librosa per file"), ("mirplug 2 threads", "librosa per file"),
                                 ("mirplug 2 threads", "librosa 2 processes"),
                                 ("mirplug batched", "essentia per file"),
                                 ("mirplug cache warm", "librosa per file")):
                if ours in timings and theirs in timings:
                    print(f"  {ours} vs {theirs}: {timings[theirs] / timings[ours]:.2f}x faster")
        _POOL.close()
        audio = folder / f"audio-{FILE_RATE}"

        # The whole command, process start-up and dataset loading included (44.1 kHz files).
        extract = [str(Path(sys.executable).parent / "mirplug"), "extract", "data=audiofolder",
                   f"data.path={audio}", "representation=mel", "data.max_windows=1000"]
        for how, option in (("decoding threads (default)", []), ("2 worker processes", ["--workers", "2"])):
            env = {**USER_ENV, "MIRPLUG_CACHE_DIR": str(folder / f"cache-extract-{len(option)}")}
            for label in ("cold", "warm"):
                done = subprocess.run(extract + option, env=env, capture_output=True, text=True)
                print(f"  mirplug extract, {how}, {label} cache: {done.stdout.strip() or done.stderr[-500:]}")

        if not args.skip_runs:
            runs = [("mel + cnn (default)", ["task=genre"])]
            try:
                import musicnn  # noqa: F401  (the pretrained weights ship in this package)

                runs.append(("musicnn frozen + linear head", ["task=genre", "backbone=musicnn"]))
            except ImportError:
                print("musicnn is not installed: its run is skipped (pip install --no-deps musicnn==0.1.0)")
            if has_essentia:
                runs.append(("essentia + linear", ["task=genre", "representation=essentia", "backbone=linear"]))
            for name, overrides in runs:
                cache = folder / f"cache-run-{name.split()[0]}"
                cold = mirplug_run(overrides, cache, folder / "runs")
                warm = mirplug_run(overrides, cache, folder / "runs")
                # the feature cache emptied, the generated dataset kept: what the features alone cost
                subprocess.run([str(Path(sys.executable).parent / "mirplug"), "cache", "clear"],
                               env={**USER_ENV, "MIRPLUG_CACHE_DIR": str(cache)}, capture_output=True, check=True)
                features_cold = mirplug_run(overrides, cache, folder / "runs")
                print(f"  mirplug run {' '.join(overrides)}: cold {cold:.1f} s (fresh cache, dataset generated), "
                      f"warm {warm:.1f} s, ratio {cold / warm:.1f}x; with the dataset on disk but no cached "
                      f"features {features_cold:.1f} s, ratio {features_cold / warm:.1f}x  [{name}]")
    finally:
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
