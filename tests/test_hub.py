"""Augmented datasets on the Hub: ``mirplug augment``, ``mirplug push`` and ``data=hub``.

Everything runs through the ``mirplug`` command line in subprocesses; the Hub is a local
server on 127.0.0.1 (tests/hub_server.py) that the real huggingface_hub and datasets clients
talk HTTP to (``HF_ENDPOINT`` is read at import time, hence the subprocesses).
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))
from hub_server import HubServer  # noqa: E402 - the server module sits beside the tests

MIRPLUG = str(Path(sys.executable).with_name("mirplug"))
TOKEN = "hf_mirplugTestToken0123456789"
PER_CLASS = 2
AUGMENT = ["task=genre", "data.clips_per_class=8", "data.styles=3", "data.seconds=1.0", "data.clip_seconds=1.0",
           "augmenter=vae,gain", f"augmenter.vae.per_class={PER_CLASS}", "augmenter.vae.steps=5",
           "augmenter.vae.min_clips_per_class=2", "augmenter.gain.p=1.0"]
TRAIN = ["data.clip_seconds=1.0", "train.epochs=1", "train.batch_size=8", "backbone.channels=4", "backbone.blocks=2"]
COLUMNS = ["audio", "label", "id", "synthetic", "source_id", "augmenter", "augmenter_params", "generator_hash"]


def mirplug(*args: str, env: dict[str, str] | None = None, check: bool = True) -> subprocess.CompletedProcess:
    """Run the mirplug CLI; with ``check`` a failure shows its output."""
    done = subprocess.run([MIRPLUG, *args], capture_output=True, text=True, env=env or dict(os.environ), timeout=300)
    if check:
        assert done.returncode == 0, done.stdout + done.stderr
    return done


@pytest.fixture(scope="module")
def augmented(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One augmented dataset (3 styles, 8 clips each; VAE + gain) for the module."""
    root = tmp_path_factory.mktemp("augmented")
    env = {**os.environ, "MIRPLUG_CACHE_DIR": str(root / "cache"), "MIRPLUG_CONFIG_DIR": str(root / "config")}
    mirplug("augment", *AUGMENT, f"out={root / 'data'}", env=env)
    return root / "data"


def hub_env(server: HubServer, home: Path, token: str | None = TOKEN) -> dict[str, str]:
    """Environment pointing the clients at the local server, online, with a private HF_HOME."""
    env = {k: v for k, v in os.environ.items() if k not in ("HF_TOKEN", "HF_HUB_OFFLINE")}
    env.update({"HF_ENDPOINT": server.url, "HF_HUB_DISABLE_XET": "1", "HF_HOME": str(home), "HF_HUB_OFFLINE": "0"})
    if token:
        env["HF_TOKEN"] = token
    return env


def test_augment_writes_real_and_synthetic_rows_with_provenance(augmented: Path) -> None:
    import datasets
    import soundfile

    saved = datasets.load_from_disk(str(augmented))
    assert list(saved) == ["train", "validation", "test"]
    provenance = json.loads((augmented / "mirplug_provenance.json").read_text())
    for split in saved.values():
        assert split.column_names == COLUMNS
        assert split.features["label"].names == provenance["labels"]
        assert isinstance(split.features["audio"], datasets.Audio)
    train = saved["train"].with_format(None)
    real = [row for row in train if not row["synthetic"]]
    vae = [row for row in train if row["augmenter"] == "vae"]
    gain = [row for row in train if row["augmenter"] == "gain"]
    assert len(vae) == PER_CLASS * 3 and len(gain) == len(real) == len(train) - len(vae) - len(gain)
    assert not any(saved["validation"]["synthetic"]) and not any(saved["test"]["synthetic"])
    # generated rows: no source, the checkpoint's sha256; transformed copies: the source clip and the drawn gain
    weights = augmented / "generation" / "generators" / "vae" / "generator.safetensors"
    digest = hashlib.sha256(weights.read_bytes()).hexdigest()
    assert {row["generator_hash"] for row in vae} == {digest}
    assert {row["source_id"] for row in vae} == {""}
    assert sorted(row["source_id"] for row in gain) == sorted(row["id"] for row in real)
    params = json.loads(gain[0]["augmenter_params"])
    assert set(params) == {"params", "seed", "sample_rate"} and set(params["params"]) == {"gain_db"}
    assert json.loads(vae[0]["augmenter_params"])["seed"] == 0
    assert not (augmented / "generation" / "synthetic").exists()  # the WAVs are embedded, not kept twice
    samples, rate = soundfile.read(io.BytesIO(vae[0]["audio"]["bytes"]))
    assert rate == 16000 and samples.shape == (16000,)
    counts = provenance["counts"]
    assert sum(c["synthetic"] for c in counts["train"].values()) == len(vae) + len(gain)
    assert provenance["source"]["license"] == "MIT"
    chain = {step["augmenter"]: step for step in provenance["augmentation"]}
    assert chain["vae"]["checkpoint_hash"] == digest and chain["vae"]["architecture"] == "vae"
    quality = json.loads((augmented / "quality.json").read_text())
    assert [report["augmenter"] for report in quality] == ["vae"]
    assert set(quality[0]["frechet_distance"]) == set(provenance["labels"])
    assert quality[0]["checkpoint_hash"] == digest and 0.0 <= quality[0]["tstr_accuracy"] <= 1.0


def test_run_on_saved_folder_selects_rows(augmented: Path, tmp_path: Path) -> None:
    import datasets

    train = datasets.load_from_disk(str(augmented))["train"]
    synthetic = sum(train["synthetic"])
    for choice, expected in (("only", synthetic), ("exclude", len(train) - synthetic)):
        mirplug("run", "task=genre", "data=hub", f"data.path={augmented}", f"data.synthetic={choice}", *TRAIN,
                f"out={tmp_path / choice}")
        metrics = json.loads(next((tmp_path / choice).glob("*/metrics.json")).read_text())
        assert metrics["n_train"] == expected
        assert metrics["n_test"] == len(datasets.load_from_disk(str(augmented))["test"])


def test_hub_dataset_bad_input(tmp_path: Path) -> None:
    import datasets
    from mirplug_builtin.datasets.hub import load

    from mirplug.errors import DataError

    done = mirplug("run", "task=genre", "data=hub", f"data.path={tmp_path}", check=False)
    assert done.returncode == 2 and "not a dataset saved with save_to_disk" in done.stderr
    plain = datasets.Dataset.from_dict({"audio": [{"bytes": b"", "path": "a.wav"}], "label": [0]})
    plain.save_to_disk(str(tmp_path / "int-label"))
    with pytest.raises(DataError, match=r"column 'label' is Value\('int64'\), not a ClassLabel"):
        load(path=str(tmp_path / "int-label"))
    plain = plain.cast_column("label", datasets.ClassLabel(names=["a", "b"]))
    datasets.DatasetDict({"train": plain}).save_to_disk(str(tmp_path / "plain"))
    with pytest.raises(DataError, match="data.synthetic=only but the dataset has no 'synthetic' column"):
        load(path=str(tmp_path / "plain"), synthetic="only")
    # without the column, exclude and include keep every row
    assert load(path=str(tmp_path / "plain"), synthetic="exclude")["train"].num_rows == 1
    with pytest.raises(DataError, match="needs exactly one of data.repo_id"):
        load()


def test_push_dry_run_writes_what_would_be_uploaded(augmented: Path, tmp_path: Path) -> None:
    import pyarrow.parquet as pq

    done = mirplug("push", str(augmented), "me/genre-aug", "--dry-run", "--dry-run-dir", str(tmp_path / "dry"))
    files = sorted(str(p.relative_to(tmp_path / "dry")) for p in (tmp_path / "dry").rglob("*") if p.is_file())
    assert files == ["README.md", "data/test-00000-of-00001.parquet", "data/train-00000-of-00001.parquet",
                     "data/validation-00000-of-00001.parquet"]
    assert "dry run: 4 files" in done.stdout
    assert pq.read_table(tmp_path / "dry" / "data/train-00000-of-00001.parquet").column_names == COLUMNS
    card = (tmp_path / "dry" / "README.md").read_text()
    provenance = json.loads((augmented / "mirplug_provenance.json").read_text())
    digest = provenance["augmentation"][0]["checkpoint_hash"]
    for text in ("license: mit", "## Augmentation chain", f"`{digest}`", "| train | rock |", "Fréchet distance",
                 "train on synthetic, test on real accuracy",
                 'filter(lambda row: not row["synthetic"])', "data.synthetic=exclude", "Made with mirplug",
                 "- split: seed 0, validation 0.15, test 0.2"):
        assert text in card, text
    assert "License warning" not in card
    # the bare flag writes beside the dataset folder
    mirplug("push", str(augmented), "me/genre-aug", "--dry-run")
    beside = augmented.with_name(f"{augmented.name}-dry-run")
    assert (beside / "README.md").read_text() == card
    assert (beside / "data/train-00000-of-00001.parquet").read_bytes() == (
        tmp_path / "dry" / "data/train-00000-of-00001.parquet").read_bytes()


def test_push_load_back_and_train_over_http(augmented: Path, tmp_path: Path) -> None:
    outputs: list[str] = []
    with HubServer(TOKEN) as server:
        env = hub_env(server, tmp_path / "hf-home")
        server.state.fail_once("commit")
        failed = mirplug("push", str(augmented), "me/genre-aug", env=env, check=False)
        outputs += [failed.stdout, failed.stderr]
        assert failed.returncode == 2
        assert "HTTP 500: simulated outage on commit" in failed.stderr and "local data is unchanged" in failed.stderr
        assert (augmented / "dataset_dict.json").is_file()
        pushed = mirplug("push", str(augmented), "me/genre-aug", env=env)
        outputs += [pushed.stdout, pushed.stderr]
        assert "pushed 4 files to me/genre-aug" in pushed.stdout
        files = server.files("me/genre-aug")
        assert sorted(files) == ["README.md", "data/test-00000-of-00001.parquet", "data/train-00000-of-00001.parquet",
                                 "data/validation-00000-of-00001.parquet"]
        # the retry reused the LFS objects the failed attempt uploaded: each shard went up once
        assert server.state.lfs_puts == 3
        commits = list(server.state.repos["me/genre-aug"].commits)
        again = mirplug("push", str(augmented), "me/genre-aug", env=env)
        outputs += [again.stdout, again.stderr]
        assert "already holds this data: nothing changed" in again.stdout
        assert server.state.repos["me/genre-aug"].commits == commits and server.state.lfs_puts == 3
        card = files["README.md"].content.decode()
        assert "## Counts (real / synthetic)" in card and "Provenance unknown" not in card

        code = ("import json, datasets; d = datasets.load_dataset('me/genre-aug'); "
                "print(json.dumps({s: [d[s].num_rows, d[s].column_names, sum(d[s]['synthetic'])] for s in d}))")
        loaded = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120)
        outputs += [loaded.stdout, loaded.stderr]
        assert loaded.returncode == 0, loaded.stderr
        import datasets

        saved = datasets.load_from_disk(str(augmented))
        assert json.loads(loaded.stdout.strip().splitlines()[-1]) == {
            split: [saved[split].num_rows, COLUMNS, sum(saved[split]["synthetic"])] for split in saved}

        trained = mirplug("run", "task=genre", "data=hub", "data.repo_id=me/genre-aug", "data.synthetic=only",
                          *TRAIN, f"out={tmp_path / 'runs'}", env=env)
        outputs += [trained.stdout, trained.stderr]
        metrics = json.loads(next((tmp_path / "runs").glob("*/metrics.json")).read_text())
        assert metrics["n_train"] == sum(saved["train"]["synthetic"])
        assert server.state.unknown == []
        assert set(server.state.authorizations) <= {f"Bearer {TOKEN}"}
    # the token reaches the server in headers only: no output and no file written holds it
    assert not any(TOKEN in text for text in outputs)
    for folder in (tmp_path, augmented):
        for path in folder.rglob("*"):
            if path.is_file():
                assert TOKEN.encode() not in path.read_bytes(), path


def test_push_bad_input(augmented: Path, tmp_path: Path) -> None:
    import datasets

    with HubServer(TOKEN) as server:
        env = hub_env(server, tmp_path / "hf-home")
        done = mirplug("push", str(tmp_path), "me/x", env=env, check=False)
        assert done.returncode == 2 and "not a saved dataset" in done.stderr
        done = mirplug("push", str(augmented), "me/bad name!", env=env, check=False)
        assert done.returncode == 2 and "repo id 'me/bad name!' is not valid" in done.stderr
        done = mirplug("push", str(augmented), "me/x", env=hub_env(server, tmp_path / "empty-home", token=None),
                       check=False)
        assert done.returncode == 2 and "huggingface-cli login" in done.stderr and "HF_TOKEN" in done.stderr
        wrong = "hf_wrongToken987654321"
        done = mirplug("push", str(augmented), "me/x", "--token", wrong, env=env, check=False)
        assert done.returncode == 2
        assert "HTTP 401: Invalid credentials in Authorization header" in done.stderr
        assert wrong not in done.stdout + done.stderr
        assert server.state.repos == {}
        done = mirplug("run", "task=genre", "data=hub", "data.repo_id=me/missing", env=env, check=False)
        assert done.returncode == 2 and "data.repo_id=me/missing: cannot load it" in done.stderr
        assert "check the repo id and data.revision" in done.stderr
        done = mirplug("push", str(augmented), "me/x", env={**env, "HF_ENDPOINT": "http://127.0.0.1:9"}, check=False)
        assert done.returncode == 2
        assert "cannot reach the Hub at http://127.0.0.1:9 to push me/x" in done.stderr

        # a dataset without provenance columns is pushed, and its card says so
        plain = datasets.DatasetDict({"train": datasets.Dataset.from_dict({"text": ["a", "b"]})})
        plain.save_to_disk(str(tmp_path / "plain"))
        mirplug("push", str(tmp_path / "plain"), "me/plain", env=env)
        card = server.files("me/plain")["README.md"].content.decode()
        assert "Provenance unknown: this dataset has no `synthetic` column" in card
        assert "License warning:" in card and "license: other" in card


def test_license_warnings() -> None:
    from mirplug.hub import license_of

    assert license_of({"source": {"license": "MIT"}}) == ("mit", None)
    license_id, warning = license_of({"source": {"license": "CC-BY-NC-4.0"}})
    assert license_id == "cc-by-nc-4.0" and "forbids commercial use" in str(warning)
    assert license_of(None)[0] == "other" and "unknown" in str(license_of(None)[1])


def test_push_to_a_branch_of_a_private_repo(tmp_path: Path) -> None:
    import datasets

    plain = datasets.DatasetDict({"train": datasets.Dataset.from_dict({"text": ["a", "b", "c"]})})
    plain.save_to_disk(str(tmp_path / "plain"))
    with HubServer(TOKEN) as server:
        # the token of 'huggingface-cli login' (HF_HOME/token), with no HF_TOKEN set
        (tmp_path / "hf-home").mkdir()
        (tmp_path / "hf-home" / "token").write_text(TOKEN)
        env = hub_env(server, tmp_path / "hf-home", token=None)
        done = mirplug("push", str(tmp_path / "plain"), "me/branched", "--private", "--revision", "dev", env=env)
        assert "pushed 2 files to me/branched" in done.stdout
        repo = server.state.repos["me/branched"]
        assert repo.private is True
        assert sorted(server.files("me/branched", "dev")) == ["README.md", "data/train-00000-of-00001.parquet"]
        assert server.files("me/branched", "main") == {}


def test_augment_bad_input(tmp_path: Path, catalog: object) -> None:
    from mirplug.augment import augment
    from mirplug.config import resolve
    from mirplug.errors import ConfigError

    done = mirplug("augment", "task=genre", "augmenter=gain", check=False)
    assert done.returncode == 2 and "mirplug augment needs out=DIR" in done.stderr
    with pytest.raises(ConfigError, match="augmenter 'specaugment' works on features"):
        augment(resolve(catalog, ["task=genre", "augmenter=specaugment"]), catalog, tmp_path / "a")
    with pytest.raises(ConfigError, match="mirplug augment needs an augmenter"):
        augment(resolve(catalog, ["task=genre"]), catalog, tmp_path / "b")
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "keep.txt").write_text("mine")
    with pytest.raises(ConfigError, match="the folder exists and is not empty"):
        augment(resolve(catalog, ["task=genre", "augmenter=gain"]), catalog, tmp_path / "full")
    assert (tmp_path / "full" / "keep.txt").read_text() == "mine"


def test_augment_splits_like_run_for_a_task_without_stratification(tmp_path: Path, catalog: object) -> None:
    """instrument has stratify=false: augment must hold out the same clips as `mirplug run`, and per_class works."""
    import csv

    import datasets

    from mirplug.augment import augment
    from mirplug.config import resolve
    from mirplug.runner import run

    from conftest import TINY

    overrides = ["task=instrument", *TINY, "data.styles=3", "data.per_class=3", "backbone.channels=4"]
    result = run(resolve(catalog, [*overrides, f"out={tmp_path / 'runs'}"]), catalog)
    assert result.metrics["n_train"] <= 3 * len(result.metrics["labels"])
    saved = datasets.load_from_disk(str(augment(resolve(catalog, [*overrides, "augmenter=gain"]), catalog,
                                                tmp_path / "augmented")))
    with open(result.folder / "predictions.csv", newline="") as handle:
        run_test = sorted(row["id"] for row in csv.DictReader(handle))
    assert sorted(saved["test"]["id"]) == run_test
    assert len([s for s in saved["train"]["synthetic"] if not s]) == result.metrics["n_train"]
