"""Built-in tasks: ``genre``, ``instrument``, ``key`` (single-label), ``tagging`` (multi-label), ``mood`` (regression)."""

from __future__ import annotations

from mirplug.hookspecs import hookimpl
from mirplug.specs import Option, TaskSpec

CLASSIFICATION_METRICS = ("accuracy", "macro_f1", "per-class precision/recall/f1", "confusion matrix")


@hookimpl
def mirplug_register_tasks() -> list[TaskSpec]:
    """Register the built-in tasks."""
    return [
        TaskSpec(
            name="genre",
            summary="single-label genre classification; data: a 'label' ClassLabel column",
            factory="mirplug_builtin.tasks.classification:ClassificationTask",
            label_kind="single-label", metrics=CLASSIFICATION_METRICS, main_metric="macro_f1",
            default_dataset="synthetic", defaults={"representation": "mel", "backbone": "cnn"}, license="MIT",
        ),
        TaskSpec(
            name="instrument",
            summary="single-label (lead) instrument classification; data: a 'label' ClassLabel column",
            factory="mirplug_builtin.tasks.classification:ClassificationTask",
            label_kind="single-label", metrics=CLASSIFICATION_METRICS, main_metric="macro_f1",
            default_dataset="synthetic", defaults={"representation": "mel", "backbone": "cnn"}, license="MIT",
        ),
        TaskSpec(
            name="key",
            summary="24 major/minor keys; data: a 'label' ClassLabel column named like 'C major'",
            factory="mirplug_builtin.tasks.key:KeyTask",
            label_kind="single-label", metrics=("weighted_score (MIREX)", *CLASSIFICATION_METRICS),
            main_metric="weighted_score", default_dataset="synthetic",
            defaults={"representation": "stft", "backbone": "cnn", "representation.n_fft": "2048",
                      "representation.hop_length_ms": "64"},
            license="MIT",
        ),
        TaskSpec(
            name="tagging",
            summary="multi-label tagging; data: a 'tags' column of tag lists",
            factory="mirplug_builtin.tasks.tagging:TaggingTask",
            label_kind="multi-label", metrics=("roc_auc_macro", "pr_auc_macro", "per-tag ROC-AUC/PR-AUC"),
            main_metric="roc_auc_macro", default_dataset="synthetic",
            defaults={"representation": "mel", "backbone": "cnn"}, license="MIT",
        ),
        TaskSpec(
            name="mood",
            summary="regression of numeric targets (valence, arousal); data: one numeric column per target",
            factory="mirplug_builtin.tasks.mood:MoodTask",
            options=(Option(name="targets", type=str, default="valence,arousal", help="comma-separated columns"),),
            label_kind="regression", metrics=("r2_mean", "mae_mean", "per-target R2/MAE"),
            main_metric="r2_mean", default_dataset="synthetic",
            defaults={"representation": "mel", "backbone": "cnn"}, license="MIT",
        ),
    ]
