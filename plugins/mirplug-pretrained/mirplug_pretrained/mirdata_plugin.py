"""The ``data=mirdata`` dataset: the field's standard collections read through mirdata.

An entry point of its own, so that without mirdata (an optional dependency: ``pip install mirdata``)
only this plugin fails to load, with that command in ``mirplug plugins``; the backbones are unaffected.
"""

from __future__ import annotations

import importlib.util

from mirplug import DatasetSpec, Option, hookimpl
from mirplug_pretrained.mirdata_tasks import DATASETS, mapping_text

if importlib.util.find_spec("mirdata") is None:
    raise ImportError("data=mirdata needs the mirdata package: pip install mirdata")


@hookimpl
def mirplug_register_datasets() -> list[DatasetSpec]:
    """Register ``mirdata``."""
    splits = "; ".join(f"{name}: {split}" for name, (_, split) in DATASETS.items())
    return [
        DatasetSpec(
            name="mirdata",
            summary=f"a local copy of a dataset through mirdata (data.name, data.home): {mapping_text()}",
            factory="mirplug_pretrained.mirdata_loader:load",
            options=(
                Option(name="name", type=str, default=None, choices=tuple(DATASETS),
                       help=f"the mirdata dataset; tasks: {mapping_text()}"),
                Option(name="home", type=str, default=None, help="the dataset's folder (mirdata's data_home)"),
                Option(name="version", type=str, default="default", help="the mirdata index version"),
                Option(name="download", type=bool, default=False,
                       help="let mirdata download the index and the dataset into data.home (never otherwise)"),
                Option(name="split", type=str, default="official", choices=("official", "random"),
                       help=f"official: the dataset's own split where it has one ({splits}); random: mirplug's split"),
                Option(name="split_number", type=int, default=0, minimum=0, maximum=4,
                       help="which official split, for datasets with several (MTG-Jamendo)"),
            ),
            needs_options=("name",),
            license="BSD-3-Clause (mirdata); each dataset keeps its own license",
            citation="Bittner et al., mirdata: software for reproducible usage of datasets, ISMIR 2019",
        ),
    ]
