"""What the base classes promise a plugin author: public generator methods (the old names still work, with a
warning), a default log-mel for quality reports, declared attributes the core reads, defaults a task declares."""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import pytest
import torch

from mirplug import ConfigError, Generator, Option, TaskSpec, hookimpl
from mirplug.catalog import Catalog
from mirplug.config import default_task, resolve
from mirplug.plugins import load_plugins
from mirplug.quality import log_mel


class _Noise:
    """The model of both test generators: white noise at a per-class level (one float per class)."""

    def fit_levels(self, waves: torch.Tensor, labels: torch.Tensor) -> dict[str, Any]:
        self.levels = torch.stack([waves[labels == c].std() for c in range(len(self.label_names))])
        return {"steps": 1}

    def draw(self, labels: torch.Tensor, seed: int) -> torch.Tensor:
        noise = torch.randn(len(labels), self.clip_samples, generator=torch.Generator().manual_seed(seed))
        return noise * self.levels[labels, None]


def _fit_and_sample(generator: Generator) -> torch.Tensor:
    waves = torch.randn(4, 800, generator=torch.Generator().manual_seed(0)) * torch.tensor([[0.1], [0.1], [1.0], [1.0]])
    generator.fit(waves, torch.tensor([0, 0, 1, 1]), ["quiet", "loud"], 8000)
    return generator.sample({0: 1, 1: 1}, seed=4)[0]


def test_a_generator_overriding_the_old_underscore_names_works_and_is_warned_once_defined() -> None:
    with pytest.warns(DeprecationWarning, match=r"overrides _fit\(\), deprecated .* rename it to fit_model\(\)"):
        class OldStyle(_Noise, Generator):
            def representation(self) -> dict[str, Any]:
                return {}

            def _fit(self, waves, labels, seed, progress, save_folder):  # type: ignore[no-untyped-def]
                return self.fit_levels(waves, labels)

            def _sample(self, labels, seed):  # type: ignore[no-untyped-def]
                return self.draw(labels, seed)

            def _state(self):  # type: ignore[no-untyped-def]
                return {"levels": self.levels}

            def _restore(self, state, config):  # type: ignore[no-untyped-def]
                self.levels = state["levels"]

    class NewStyle(_Noise, Generator):
        def representation(self) -> dict[str, Any]:
            return {}

        def fit_model(self, waves, labels, seed, progress, save_folder):  # type: ignore[no-untyped-def]
            return self.fit_levels(waves, labels)

        def sample_model(self, labels, seed):  # type: ignore[no-untyped-def]
            return self.draw(labels, seed)

        def model_state(self):  # type: ignore[no-untyped-def]
            return {"levels": self.levels}

        def restore_model(self, state, config):  # type: ignore[no-untyped-def]
            self.levels = state["levels"]

    with warnings.catch_warnings():
        warnings.simplefilter("error")  # using either kind warns no more
        old, new = _fit_and_sample(OldStyle()), _fit_and_sample(NewStyle())
    assert torch.equal(old, new) and old.shape == (2, 800)
    fitted = NewStyle()
    _fit_and_sample(fitted)
    with pytest.warns(DeprecationWarning, match=r"Generator._state\(\) is deprecated .* call model_state\(\)"):
        assert set(fitted._state()) == {"levels"}  # a caller of the old name still gets the state


def test_a_generator_without_the_model_methods_cannot_be_instantiated() -> None:
    class Empty(Generator):
        def representation(self) -> dict[str, Any]:
            return {}

    with pytest.raises(TypeError, match="fit_model"):
        Empty()


def test_the_default_log_mel_is_librosas_htk_mel_in_db() -> None:
    librosa = pytest.importorskip("librosa")
    waves = 0.1 * torch.randn(2, 16000, generator=torch.Generator().manual_seed(0))
    ours = log_mel(waves, 16000)
    reference = librosa.power_to_db(librosa.feature.melspectrogram(
        y=waves[1].numpy(), sr=16000, n_fft=1024, hop_length=256, n_mels=64, htk=True, norm=None, power=2.0, pad_mode="reflect"),
        ref=1.0, top_db=None)
    assert ours.shape == (2, 64, 63) and ours.dtype == torch.float32
    np.testing.assert_allclose(ours[1].numpy(), reference, atol=1e-3)


def _catalog_with(*specs: TaskSpec) -> Catalog:
    class Tasks:
        @hookimpl
        def mirplug_register_tasks(self) -> list[TaskSpec]:
            return list(specs)

    host = load_plugins()
    host.register(Tasks(), "thirdparty")
    return Catalog.from_host(host)


def _task(name: str, **fields: Any) -> TaskSpec:
    return TaskSpec(name=name, summary="a task", factory="mirplug_builtin.tasks.classification:ClassificationTask",
                    options=(Option(name="stratify", type=bool, default=True),), license="MIT", **fields)


def test_a_task_says_its_default_components_and_a_run_without_them_names_the_key() -> None:
    catalog = _catalog_with(_task("bare"))
    with pytest.raises(ConfigError, match=r"^task 'bare' names no default dataset; choose one with data=NAME "
                                          r"\(installed: .*synthetic"):
        resolve(catalog, ["task=bare"])
    with pytest.raises(ConfigError, match=r"^task 'bare' names no default representation; choose one with "
                                          r"representation=NAME \(installed: .*mel"):
        resolve(catalog, ["task=bare", "data=synthetic"])
    config = resolve(catalog, ["task=bare", "data=synthetic", "representation=mfcc", "backbone=mlp"])
    assert (config.data.name, config.representation.name, config.backbone.name) == ("synthetic", "mfcc", "mlp")


def test_the_default_task_is_the_one_marked_run_by_default_and_mirplugs_own_wins_a_tie() -> None:
    assert default_task(_catalog_with(_task("mine"))) == "genre"
    assert default_task(_catalog_with(_task("mine", run_by_default=True))) == "genre"
    host = load_plugins()
    for plugin in ("tasks",):  # without the built-in tasks, a third-party default is the default
        host.manager.unregister(name=plugin)
    host.plugins.pop("tasks")

    class Tasks:
        @hookimpl
        def mirplug_register_tasks(self) -> list[TaskSpec]:
            return [_task("mine", run_by_default=True, default_dataset="synthetic",
                          defaults={"representation": "mel", "backbone": "cnn"}), _task("other")]

    host.register(Tasks(), "thirdparty")
    catalog = Catalog.from_host(host)
    assert default_task(catalog) == "mine" and resolve(catalog, []).task.name == "mine"

    class Rival:
        @hookimpl
        def mirplug_register_tasks(self) -> list[TaskSpec]:
            return [_task("rival", run_by_default=True)]

    host.register(Rival(), "rival")
    with pytest.raises(ConfigError, match=r"^no default task \(mine, rival all claim to be the default\); choose one "
                                          r"with task=NAME \(installed: mine, other, rival\)$"):
        resolve(Catalog.from_host(host), [])


def test_an_option_that_shadows_a_core_key_is_refused_at_registration_and_the_rest_of_the_plugin_stays() -> None:
    from mirplug import BackboneSpec, DatasetSpec

    class Shadowing:
        @hookimpl
        def mirplug_register_datasets(self) -> list[DatasetSpec]:
            return [DatasetSpec(name="shadow", summary="s", factory="x:y", license="MIT",
                                options=(Option(name="clip_seconds", type=float, default=1.0),)),
                    DatasetSpec(name="fine", summary="f", factory="x:y", license="MIT",
                                options=(Option(name="seconds", type=float, default=1.0),))]

        @hookimpl
        def mirplug_register_backbones(self) -> list[BackboneSpec]:
            return [BackboneSpec(name="framey", summary="b", factory="x:y", license="MIT",
                                 options=(Option(name="frame_rate", type=float, default=1.0),))]

    host = load_plugins()
    host.register(Shadowing(), "shadowing")
    catalog = Catalog.from_host(host)
    assert [(f.name, f.stage, f.error) for f in catalog.failures] == [
        ("shadowing", "hook mirplug_register_backbones",
         ("plugin 'shadowing': backbone 'framey' declares option 'frame_rate', which shadows the argument "
          "'frame_rate' the core passes to every backbone factory; rename the option")),
        ("shadowing", "hook mirplug_register_datasets",
         ("plugin 'shadowing': dataset 'shadow' declares option 'clip_seconds', which shadows the core key "
          "data.clip_seconds (shared by every dataset); rename the option"))]
    assert "fine" in catalog.names("dataset") and "shadow" not in catalog.names("dataset")
    assert "framey" not in catalog.names("backbone")
