"""The data-related bad inputs of issue 16, tried as a new user would: real files, real commands.

Every case builds its inputs (audio folders, a cache) in a fresh temporary folder, runs the
``mirplug`` command a user would type as a subprocess with a private ``MIRPLUG_CACHE_DIR``, and
sorts the outcome into one of three kinds:

  clean      what should happen happened: a finished run that reports what it should (skipped.csv
             names the file and the reason, the cache is repaired, ...), or one ``error:`` line
             (exit 2, no traceback) that names what it should
  traceback  a Python traceback, a crash (MemoryError, killed) or a command that does not end
  silent     the command ends without a traceback but the result is wrong: data dropped without a
             word, a wrong message, a leftover process or folder, different metrics for one input

Covered (issue 16, "What was seen"): item 1 (runs at once on a fresh cache), 2 (a header that
says 1 Hz), 4 (symlinked class folders, symlink loops, dangling links, a class whose clips all
fail, a truncated WAV), 5 (the cache and environment parts: MIRPLUG_CACHE_DIR at a file, a
truncated or garbled features/*/settings.json under ``cache info``/``cache clear``) and 6 (a
kill during synthetic generation, damaged synthetic clips, ``cache clear`` and datasets/).

    python benchmarks/bad_inputs_data.py [--only NAME ...] [--json FILE] [--mirplug PATH]

Every subprocess runs under a 6 GiB address-space limit, so a decoder that asks for more ends
in MemoryError instead of taking the machine's memory. Prints one line per case and the tally.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import wave
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import numpy as np

MEMORY_LIMIT = 6 << 30
TIMEOUT = 900
# Small runs: few clips, two epochs, a small CNN (a run takes ~15 s of CPU).
SMALL = ["train.epochs=2", "train.batch_size=8", "data.clip_seconds=1.0", "backbone.channels=4",
         "backbone.blocks=2"]
SYNTHETIC = ["task=genre", "data.clips_per_class=6", "data.seconds=1.0", "data.styles=3", *SMALL]
# Enough clips that generating them takes a few seconds (a kill lands during generation).
BIG = ["data.clips_per_class=120", "data.seconds=2.0", "data.styles=4"]
# The two-runs case generates these (several seconds of work, so that the two generations overlap).
MEDIUM = ["data.clips_per_class=40", "data.seconds=2.0", "data.styles=4"]
MIRPLUG = [str(Path(sys.executable).with_name("mirplug"))]


class Outcome:
    def __init__(self, kind: str, detail: str) -> None:
        self.kind, self.detail = kind, detail


def clean(detail: str) -> Outcome:
    return Outcome("clean", detail)


def traceback(detail: str) -> Outcome:
    return Outcome("traceback", detail)


def silent(detail: str) -> Outcome:
    return Outcome("silent", detail)


def _limit() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_LIMIT, MEMORY_LIMIT))


def environment(cache: Path, home: Path) -> dict[str, str]:
    return {**os.environ, "MIRPLUG_CACHE_DIR": str(cache), "MIRPLUG_CONFIG_DIR": str(home / "config"),
            "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1", "COLUMNS": "200"}


def start(args: list[str], env: dict[str, str], cwd: Path) -> subprocess.Popen:
    return subprocess.Popen([*MIRPLUG, *args], env=env, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, preexec_fn=_limit)


def mirplug(args: list[str], env: dict[str, str], cwd: Path) -> tuple[int, str, str]:
    process = start(args, env, cwd)
    try:
        out, err = process.communicate(timeout=TIMEOUT)
    except subprocess.TimeoutExpired:
        process.kill()
        out, err = process.communicate()
        return -999, out, err + "\n(timed out)"
    return process.returncode, out, err


def crashed(code: int, err: str) -> str | None:
    """Why this exit is a crash (traceback, signal, no one-line error), or None."""
    if "Traceback (most recent call last)" in err or "MemoryError" in err or "bad_alloc" in err:
        lines = [line for line in err.strip().splitlines() if line.strip()]
        return f"traceback: {lines[-1][:160] if lines else ''}"
    if code == -999:
        return "did not end"
    if code < 0:
        return f"killed by signal {-code}"
    if code != 0 and not error_line(err):
        return f"exit {code} without an error line"
    return None


def error_line(err: str) -> str:
    lines = [line for line in err.strip().splitlines() if line.strip()]
    return lines[-1] if lines and lines[-1].startswith("error: ") else ""


def run_folder(out: Path) -> Path | None:
    folders = sorted(p for p in out.glob("*") if p.is_dir()) if out.exists() else []
    return folders[-1] if folders else None


def skipped_rows(folder: Path | None) -> list[dict[str, str]]:
    if folder is None or not (folder / "skipped.csv").exists():
        return []
    with open(folder / "skipped.csv", newline="") as handle:
        return list(csv.DictReader(handle))


# ---------------------------------------------------------------- audio on disk

def tone(freq: float, seconds: float = 1.0, rate: int = 16000, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * rate)) / rate
    return (0.4 * np.sin(2 * np.pi * freq * t) + 0.02 * rng.standard_normal(len(t))).astype(np.float32)


def write_wav(path: Path, samples: np.ndarray, rate: int = 16000) -> None:
    import soundfile

    path.parent.mkdir(parents=True, exist_ok=True)
    soundfile.write(str(path), samples, rate, subtype="PCM_16")


def write_wav_header_rate(path: Path, n_bytes: int, rate: int) -> None:
    """A 16-bit mono WAV of ``n_bytes`` of noise whose header says ``rate`` Hz."""
    path.parent.mkdir(parents=True, exist_ok=True)
    data = (np.random.default_rng(1).standard_normal(n_bytes // 2) * 3000).astype("<i2").tobytes()
    with wave.open(str(path), "wb") as handle:
        handle.setnchannels(1)
        handle.setsampwidth(2)
        handle.setframerate(rate)
        handle.writeframes(data)


def class_folder(root: Path, label: str, freq: float, clips: int = 6) -> Path:
    folder = root / label
    for index in range(clips):
        write_wav(folder / f"{label}{index}.wav", tone(freq * (1 + 0.02 * index), seed=index))
    return folder


def audio_folder(root: Path, labels: dict[str, float], clips: int = 6) -> Path:
    for label, freq in labels.items():
        class_folder(root, label, freq, clips)
    return root


def run_folder_data(work: Path, data: Path, extra: list[str] | None = None) -> tuple[int, str, str, Path | None]:
    out = work / "runs"
    env = environment(work / "cache", work)
    code, stdout, err = mirplug(["run", "task=genre", "data=audiofolder", f"data.path={data}", *SMALL,
                                 f"out={out}", *(extra or [])], env, work)
    return code, stdout, err, run_folder(out)


def labels_of(folder: Path | None) -> list[str]:
    if folder is None or not (folder / "metrics.json").exists():
        return []
    return list(json.loads((folder / "metrics.json").read_text()).get("labels", []))


# ---------------------------------------------------------------- cases: item 1 and 6 (cache, datasets)

def _parallel_runs(work: Path, count: int, overrides: list[str], stagger: float) -> Outcome:
    """``count`` runs of ``overrides`` on one fresh cache, started ``stagger`` seconds apart."""
    env = environment(work / "cache", work)
    processes = []
    for index in range(count):
        processes.append(start(["run", *overrides, f"out={work / f'runs{index}'}"], env, work))
        time.sleep(stagger)
    results = [(p, *p.communicate(timeout=TIMEOUT)) for p in processes]
    for process, _, err in results:
        why = crashed(process.returncode, err)
        if why:
            return traceback(why)
        if process.returncode != 0:
            return silent(f"refused: {error_line(err)}")
    metrics = [(run_folder(work / f"runs{i}") / "metrics.json").read_text() for i in range(count)]
    if len(set(metrics)) != 1:
        return silent(f"{len(set(metrics))} different metrics.json among {count} runs")
    problems = cache_problems(work / "cache")
    if problems:
        return silent("inconsistent cache: " + "; ".join(problems))
    return clean(f"{count} runs, identical metrics.json, consistent cache")


def cache_problems(cache: Path) -> list[str]:
    """Leftover temporary folders or files, and synthetic clips that do not decode."""
    import soundfile

    problems = []
    datasets = cache / "datasets"
    entries = sorted(datasets.iterdir()) if datasets.exists() else []
    finished = [p for p in entries if p.is_dir() and (p / "metadata.jsonl").exists() and (p / "COMPLETE").exists()]
    leftovers = [p.name for p in entries if p not in finished and not p.name.endswith(".lock")]
    if leftovers:
        problems.append(f"leftovers in datasets/: {leftovers}")
    for folder in finished:
        rows = (folder / "metadata.jsonl").read_text().splitlines()
        for row in rows:
            try:
                soundfile.info(str(folder / json.loads(row)["id"]))
            except Exception as exc:  # noqa: BLE001 - any failure is a problem to report
                problems.append(f"{folder.name}: {json.loads(row)['id']} {type(exc).__name__}")
    temporary = [str(p.relative_to(cache)) for p in cache.rglob("*.tmp")]
    if temporary:
        problems.append(f"temporary files: {temporary[:3]}")
    return problems


def case_two_runs_at_once(work: Path) -> Outcome:
    """Item 1: two `mirplug run task=genre` started 0.3 s apart on a fresh cache (160 clips to generate)."""
    return _parallel_runs(work, 2, ["task=genre", *MEDIUM, *SMALL], stagger=0.3)


def case_four_runs_at_once(work: Path) -> Outcome:
    """Item 1 / Deliver 1: four `mirplug run task=genre` at once on an empty cache."""
    return _parallel_runs(work, 4, SYNTHETIC, stagger=0.0)


def _descendants(pid: int) -> set[int]:
    found, todo = set(), [pid]
    while todo:
        current = todo.pop()
        for task in Path(f"/proc/{current}/task").glob("*"):
            try:
                children = (task / "children").read_text().split()
            except OSError:
                continue
            for child in map(int, children):
                if child not in found:
                    found.add(child)
                    todo.append(child)
    return found


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def case_kill_during_generation(work: Path) -> Outcome:
    """Item 6: kill -9 a run while it generates the synthetic dataset; no process outlives it, a rerun works."""
    env = environment(work / "cache", work)
    big = ["task=genre", *BIG, *SMALL]
    process = start(["run", *big, f"out={work / 'runs'}"], env, work)
    deadline = time.time() + 300
    children: set[int] = set()
    while time.time() < deadline and process.poll() is None:
        children = _descendants(process.pid)
        datasets = work / "cache" / "datasets"
        if children and datasets.exists() and any(datasets.rglob("*.wav")):
            break
        time.sleep(0.2)
    if process.poll() is not None:
        return traceback(f"the run ended before it could be killed (exit {process.returncode})")
    time.sleep(1.0)
    children |= _descendants(process.pid)
    process.send_signal(signal.SIGKILL)
    process.wait()
    process.stdout.close()  # not read: surviving workers would hold the pipes open
    process.stderr.close()
    time.sleep(3.0)
    orphans = [pid for pid in children if _alive(pid)]
    for pid in orphans:
        try:
            os.kill(pid, signal.SIGKILL)
        except OSError:
            pass
    code, _, err = mirplug(["run", "task=genre", *BIG, *SMALL, f"out={work / 'again'}"], env, work)
    why = crashed(code, err)
    if why:
        return traceback(f"rerun after the kill: {why}")
    if code != 0:
        return silent(f"rerun after the kill refused: {error_line(err)}")
    if orphans:
        return silent(f"{len(orphans)} of {len(children)} worker processes outlived the killed run")
    problems = cache_problems(work / "cache")
    if problems:
        return silent("after the rerun: " + "; ".join(problems))
    return clean(f"no process of {len(children)} outlived the kill; the rerun finished on the same cache")


def _first_run(work: Path) -> tuple[Path, str]:
    env = environment(work / "cache", work)
    code, _, err = mirplug(["run", *SYNTHETIC, f"out={work / 'first'}"], env, work)
    if code != 0:
        raise RuntimeError(f"the first run failed: {err[-400:]}")
    return run_folder(work / "first"), (run_folder(work / "first") / "metrics.json").read_text()


def case_damaged_synthetic_clip(work: Path) -> Outcome:
    """Item 6: a synthetic clip under cache/datasets is damaged; the next run repairs it."""
    _, metrics = _first_run(work)
    clips = sorted((work / "cache" / "datasets").rglob("*.wav"))
    victim = clips[len(clips) // 2]
    original = victim.read_bytes()
    victim.write_bytes(original[: len(original) // 3])
    env = environment(work / "cache", work)
    code, _, err = mirplug(["run", *SYNTHETIC, f"out={work / 'second'}"], env, work)
    why = crashed(code, err)
    if why:
        return traceback(why)
    second = run_folder(work / "second")
    if code != 0:
        return silent(f"refused: {error_line(err)}")
    if victim.read_bytes() != original:
        rows = skipped_rows(second)
        return silent(f"not repaired ({len(rows)} clip(s) skipped by the next run)")
    if (second / "metrics.json").read_text() != metrics:
        return silent("repaired, but the metrics differ from the first run's")
    return clean("repaired; the next run's metrics equal the first run's")


def case_cache_clear_removes_datasets(work: Path) -> Outcome:
    """Item 6: `mirplug cache clear` removes what it says (datasets/ too) and says so."""
    _first_run(work)
    env = environment(work / "cache", work)
    code, out, err = mirplug(["cache", "clear"], env, work)
    why = crashed(code, err)
    if why:
        return traceback(why)
    left = sorted(p.name for p in (work / "cache").iterdir() if any(p.rglob("*"))) if (work / "cache").exists() else []
    if left:
        return silent(f"said {out.strip()!r} but left {left}")
    if "dataset" not in out:
        return silent(f"removed datasets/ without saying so: {out.strip()!r}")
    return clean(out.strip())


# ---------------------------------------------------------------- item 5: cache and environment

def case_cache_dir_is_a_file_run(work: Path) -> Outcome:
    """Item 5: MIRPLUG_CACHE_DIR names a file; `mirplug run` says so in one line."""
    target = work / "not-a-folder"
    target.write_text("x")
    env = {**environment(target, work)}
    code, _, err = mirplug(["run", *SYNTHETIC, f"out={work / 'runs'}"], env, work)
    why = crashed(code, err)
    if why:
        return traceback(why)
    line = error_line(err)
    if code == 0 or "MIRPLUG_CACHE_DIR" not in line:
        return silent(f"exit {code}: {line or err.strip()[-160:]}")
    return clean(line)


def case_cache_dir_is_a_file_info(work: Path) -> Outcome:
    """Item 5: MIRPLUG_CACHE_DIR names a file; `mirplug cache info` says so in one line."""
    target = work / "not-a-folder"
    target.write_text("x")
    code, out, err = mirplug(["cache", "info"], environment(target, work), work)
    why = crashed(code, err)
    if why:
        return traceback(why)
    line = error_line(err)
    if code == 0 or "MIRPLUG_CACHE_DIR" not in line:
        return silent(f"exit {code}: {line or out.strip()[-160:]}")
    return clean(line)


def _damaged_settings(work: Path, damage: Callable[[Path], None], command: str) -> Outcome:
    _first_run(work)
    settings = sorted((work / "cache" / "features").glob("*/settings.json"))
    for path in settings:
        damage(path)
    env = environment(work / "cache", work)
    code, out, err = mirplug(["cache", command], env, work)
    why = crashed(code, err)
    if why:
        return traceback(why)
    if code != 0:
        line = error_line(err)
        if command == "clear":
            return silent(f"cache clear refused: {line}")
        return clean(line) if "settings.json" in line else silent(f"vague error: {line}")
    if command == "clear":
        features = work / "cache" / "features"
        if features.exists() and any(features.iterdir()):
            return silent(f"said {out.strip()!r} but left features/")
        return clean(out.strip().splitlines()[-1])
    return clean(f"listed {len(settings)} folders despite the damaged settings.json")


def _truncate(path: Path) -> None:
    path.write_bytes(path.read_bytes()[:7])


def _garble(path: Path) -> None:
    path.write_bytes(b"\xff\xfe\x00garbled\x80\x81")


def case_truncated_settings_info(work: Path) -> Outcome:
    """Item 5: a truncated features/*/settings.json under `mirplug cache info`."""
    return _damaged_settings(work, _truncate, "info")


def case_truncated_settings_clear(work: Path) -> Outcome:
    """Item 5: a truncated features/*/settings.json under `mirplug cache clear`."""
    return _damaged_settings(work, _truncate, "clear")


def case_garbled_settings_info(work: Path) -> Outcome:
    """Item 5: a garbled (non-UTF-8) features/*/settings.json under `mirplug cache info`."""
    return _damaged_settings(work, _garble, "info")


def case_garbled_settings_clear(work: Path) -> Outcome:
    """Item 5: a garbled (non-UTF-8) features/*/settings.json under `mirplug cache clear`."""
    return _damaged_settings(work, _garble, "clear")


# ---------------------------------------------------------------- items 2 and 4: audio folders

def _expect_skipped(work: Path, data: Path, name: str, words: tuple[str, ...]) -> Outcome:
    code, _, err, folder = run_folder_data(work, data)
    why = crashed(code, err)
    if why:
        return traceback(why)
    if code != 0:
        return silent(f"refused: {error_line(err)}")
    rows = [row for row in skipped_rows(folder) if name in row["path"]]
    if not rows:
        return silent(f"{name} is not in skipped.csv ({len(skipped_rows(folder))} rows)")
    reason = rows[0]["reason"]
    if not any(word in reason.lower() for word in words):
        return silent(f"{name} skipped with an unhelpful reason: {reason!r}")
    return clean(f"skipped.csv: {name}: {reason}")


def case_header_says_1_hz_small(work: Path) -> Outcome:
    """Item 2: an 8 KB WAV whose header says 1 Hz (decoded to 4000 s, 256 MB, before)."""
    data = audio_folder(work / "data", {"low": 220.0, "high": 1760.0})
    write_wav_header_rate(data / "low" / "one-hertz.wav", 8000, 1)
    return _expect_skipped(work, data, "one-hertz.wav", ("sample rate",))


def case_header_says_1_hz_large(work: Path) -> Outcome:
    """Item 2: a 300 KB WAV whose header says 1 Hz (asks for ~9.6 GB when resampled to 16 kHz)."""
    data = audio_folder(work / "data", {"low": 220.0, "high": 1760.0})
    write_wav_header_rate(data / "low" / "one-hertz.wav", 300_000, 1)
    return _expect_skipped(work, data, "one-hertz.wav", ("sample rate",))


def case_truncated_wav(work: Path) -> Outcome:
    """Item 4: a WAV cut off after a third of its data (the header promises more)."""
    data = audio_folder(work / "data", {"low": 220.0, "high": 1760.0})
    path = data / "low" / "cut.wav"
    write_wav(path, tone(330.0, seconds=2.0))
    content = path.read_bytes()
    path.write_bytes(content[: 44 + (len(content) - 44) // 3])
    return _expect_skipped(work, data, "cut.wav", ("truncated",))


def case_symlinked_class_folder(work: Path) -> Outcome:
    """Item 4: a class folder that is a symlink (next to two real ones) is followed."""
    data = audio_folder(work / "data", {"low": 220.0, "high": 1760.0})
    class_folder(work / "elsewhere", "mid", 660.0)
    (data / "mid").symlink_to(work / "elsewhere" / "mid", target_is_directory=True)
    code, _, err, folder = run_folder_data(work, data)
    why = crashed(code, err)
    if why:
        return traceback(why)
    if code != 0:
        return silent(f"refused: {error_line(err)}")
    labels = labels_of(folder)
    if "mid" not in labels:
        return silent(f"the symlinked class was ignored: labels {labels}")
    return clean(f"labels {labels}")


def case_symlinked_class_folder_one_real(work: Path) -> Outcome:
    """Item 4: one real class folder and one symlinked: two labels, not 'a single label'."""
    data = audio_folder(work / "data", {"low": 220.0})
    class_folder(work / "elsewhere", "high", 1760.0)
    (data / "high").symlink_to(work / "elsewhere" / "high", target_is_directory=True)
    code, _, err, folder = run_folder_data(work, data)
    why = crashed(code, err)
    if why:
        return traceback(why)
    if code != 0:
        return silent(f"wrong refusal: {error_line(err)}")
    return clean(f"labels {labels_of(folder)}")


def case_symlink_loop(work: Path) -> Outcome:
    """Item 4: a class folder holds a link back to the dataset folder (a loop)."""
    data = audio_folder(work / "data", {"low": 220.0, "high": 1760.0})
    (data / "low" / "again").symlink_to(data, target_is_directory=True)
    return _expect_skipped(work, data, "again", ("loop",))


def case_dangling_link(work: Path) -> Outcome:
    """Item 4: a class folder holds a link to a file that does not exist."""
    data = audio_folder(work / "data", {"low": 220.0, "high": 1760.0})
    (data / "low" / "gone.wav").symlink_to(work / "nowhere" / "gone.wav")
    return _expect_skipped(work, data, "gone.wav", ("dangling", "does not exist", "no such file"))


def case_class_all_clips_corrupt(work: Path) -> Outcome:
    """Item 4: every clip of one class fails to decode: the run stops naming the label and skipped.csv."""
    data = audio_folder(work / "data", {"low": 220.0, "high": 1760.0, "mid": 660.0})
    for path in sorted((data / "mid").glob("*.wav")):
        path.write_bytes(b"RIFF\x00\x00\x00\x00garbage" + os.urandom(64))
    code, _, err, folder = run_folder_data(work, data)
    why = crashed(code, err)
    if why:
        return traceback(why)
    line = error_line(err)
    if code == 0:
        return silent(f"finished with labels {labels_of(folder)} and {len(skipped_rows(folder))} skipped clips")
    if "'mid'" not in line or "skipped.csv" not in line:
        return silent(f"refused without naming the label and skipped.csv: {line}")
    return clean(line)


CASES: dict[str, Callable[[Path], Outcome]] = {
    name[len("case_"):]: function for name, function in list(globals().items()) if name.startswith("case_")
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", nargs="*", choices=sorted(CASES), help="run these cases only")
    parser.add_argument("--json", type=Path, help="write the outcomes here")
    parser.add_argument("--mirplug", help="the mirplug executable (default: the one next to this Python)")
    parser.add_argument("--keep", action="store_true", help="keep the work folders")
    args = parser.parse_args()
    if args.mirplug:
        MIRPLUG[:] = [args.mirplug]
    results = {}
    for name in args.only or list(CASES):
        work = Path(tempfile.mkdtemp(prefix=f"mirplug-bad-{name}-"))
        started = time.time()
        try:
            outcome = CASES[name](work)
        except Exception as exc:  # noqa: BLE001 - a failure of the harness is reported, not hidden
            outcome = Outcome("harness", f"{type(exc).__name__}: {exc}")
        finally:
            if not args.keep:
                shutil.rmtree(work, ignore_errors=True)
        seconds = time.time() - started
        results[name] = {"kind": outcome.kind, "detail": outcome.detail, "seconds": round(seconds, 1)}
        print(f"{outcome.kind:9s} {name:34s} {seconds:6.1f} s  {outcome.detail}", flush=True)
    tally = Counter(result["kind"] for result in results.values())
    print(f"tried {len(results)}: clean {tally['clean']}, traceback {tally['traceback']}, silent {tally['silent']}"
          + (f", harness failures {tally['harness']}" if tally["harness"] else ""))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps({"tally": dict(tally), "cases": results}, indent=2) + "\n")


if __name__ == "__main__":
    main()
