"""Built-in tasks: ``genre`` (single-label classification)."""

from __future__ import annotations

from mirplug.hookspecs import hookimpl
from mirplug.specs import TaskSpec


@hookimpl
def mirplug_register_tasks() -> list[TaskSpec]:
    """Register the built-in tasks."""
    return [
        TaskSpec(
            name="genre",
            summary="single-label genre classification (a 'label' ClassLabel column)",
            factory="mirplug_builtin.tasks.classification:ClassificationTask",
            label_kind="single-label",
            metrics=("accuracy", "macro_f1", "per-class precision/recall/f1", "confusion matrix"),
            main_metric="macro_f1",
            default_dataset="synthetic",
            defaults={"representation": "mel", "backbone": "cnn"},
            license="MIT",
        ),
    ]
