"""mirplug plugin 'myplugin': registers the task 'myplugin'.

Imported every time mirplug starts, so it stays light: the component itself lives in
``mirplug_myplugin.component`` and is only imported (with torch) when a run uses it.
"""

from __future__ import annotations

from mirplug import Option, TaskSpec, hookimpl


@hookimpl
def mirplug_register_tasks() -> list[TaskSpec]:
    """Register the task 'myplugin'."""
    return [
        TaskSpec(
            name="myplugin",
            summary="single-label classification with label smoothing",
            factory="mirplug_myplugin.component:SmoothedClassification",
            options=(
                Option(name="label_smoothing", type=float, default=0.1, minimum=0.0, maximum=0.9,
                       help="cross-entropy label smoothing"),
            ),
            label_kind="single-label",
            metrics=("accuracy", "macro_f1"),
            main_metric="macro_f1",
            # what a run uses unless told otherwise (data=, representation=, backbone=); any installed name
            default_dataset="synthetic",
            defaults={"representation": "mel", "backbone": "mlp"},
            license="MIT",
        )
    ]
