"""Built-in tasks: genre, instrument, key (single-label), tagging (multi-label), mood (regression), beats (frames)."""

from __future__ import annotations

from mirplug import Option, TaskSpec, hookimpl

def _stratify(default: bool) -> Option:
    # Many classes leave some with a clip or two in small collections; those tasks split at random.
    return Option(name="stratify", type=bool, default=default,
                  help="split stratified by label (needs 3 clips per label)")


CLASSIFICATION_METRICS = ("accuracy", "macro_f1", "per-class precision/recall/f1", "confusion matrix")


@hookimpl
def mirplug_register_tasks() -> list[TaskSpec]:
    """Register the built-in tasks."""
    return [
        TaskSpec(
            name="genre", run_by_default=True,  # mirplug run without task=
            summary="single-label genre classification; data: a 'label' ClassLabel column",
            factory="mirplug_builtin.tasks.classification:ClassificationTask", options=(_stratify(True),),
            label_kind="single-label", metrics=CLASSIFICATION_METRICS, main_metric="macro_f1",
            default_dataset="synthetic", defaults={"representation": "mel", "backbone": "cnn"}, license="MIT",
            # on recordings: the pretrained musicnn tagger, frozen, with a probe whose regularisation is chosen
            # on held-out clips; 4 evenly spread 3 s windows per clip keep 500 clips of 30 s within 3 minutes
            # on 2 cores (benchmarks/results/real/README.md)
            recorded_defaults={"backbone": "musicnn", "backbone.head": "probe", "data.max_windows": "4"},
        ),
        TaskSpec(
            name="instrument",
            summary="single-label (lead) instrument classification; data: a 'label' ClassLabel column",
            factory="mirplug_builtin.tasks.classification:ClassificationTask", options=(_stratify(False),),
            label_kind="single-label", metrics=CLASSIFICATION_METRICS, main_metric="macro_f1",
            default_dataset="synthetic", defaults={"representation": "mel", "backbone": "cnn"}, license="MIT",
        ),
        TaskSpec(
            name="key",
            summary="24 major/minor keys; data: a 'label' ClassLabel column named like 'C major'",
            factory="mirplug_builtin.tasks.key:KeyTask", options=(_stratify(False),),
            label_kind="single-label", metrics=("weighted_score (MIREX)", *CLASSIFICATION_METRICS),
            main_metric="weighted_score", default_dataset="synthetic",
            # Key is a pitch-class question: chroma (from the CQT) with an MLP over its time statistics
            # scored 0.33 against 0.07 for an STFT + CNN on the synthetic data.
            defaults={"representation": "chroma", "backbone": "mlp"},
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
        TaskSpec(
            name="beats",
            summary="beat tracking per frame; data: a 'beats' column of beat times in seconds",
            factory="mirplug_builtin.tasks.beats:EventTask",
            options=(
                Option(name="events", type=str, default="beats", help="column of event times (seconds)"),
                Option(name="tolerance_seconds", type=float, default=0.07, minimum=0.001, help="F-measure window"),
                Option(name="threshold", type=float, default=0.5, minimum=0.0, maximum=1.0, help="peak threshold"),
                Option(name="min_gap_seconds", type=float, default=0.2, minimum=0.0, help="closest two events"),
                Option(name="target_width_frames", type=int, default=3, minimum=1, help="frames marked per event"),
            ),
            label_kind="frame-events", metrics=("f_measure (mir_eval, 70 ms)",), main_metric="f_measure",
            default_dataset="synthetic",
            defaults={"representation": "mel", "backbone": "cnn", "backbone.pool_time": "false",
                      "backbone.blocks": "3", "representation.hop_length_ms": "10"},
            license="MIT",
        ),
    ]
