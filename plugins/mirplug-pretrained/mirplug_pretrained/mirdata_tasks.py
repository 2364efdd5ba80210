"""Which mirdata datasets ``data=mirdata`` maps to which mirplug tasks, and their official splits.

Plain data (no imports), shared by the hook module (for ``mirplug list datasets``) and the loader.
"""

from __future__ import annotations

# dataset -> (tasks its annotations serve, the split used with data.split=official)
DATASETS: dict[str, tuple[tuple[str, ...], str]] = {
    "ballroom": (("genre", "beats"), "none (mirplug splits it)"),
    "beatles": (("beats",), "none (mirplug splits it)"),
    "beatport_key": (("key",), "none (mirplug splits it)"),
    "giantsteps_key": (("key",), "none (mirplug splits it)"),
    "gtzan_genre": (("genre", "beats"), "the fault-filtered split (Kereliuk et al. 2015; 443/197/290 clips)"),
    "medley_solos_db": (("instrument",), "its training/validation/test subsets"),
    "mtg_jamendo_autotagging_moodtheme": (("tagging",), "its split-N (data.split_number=0..4)"),
}


def mapping_text() -> str:
    """``name -> task, task`` for every mapped dataset, on one line."""
    return "; ".join(f"{name} -> {', '.join(tasks)}" for name, (tasks, _) in DATASETS.items())
