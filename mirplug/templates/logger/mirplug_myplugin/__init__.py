"""mirplug plugin 'myplugin': registers the logger 'myplugin' (an experiment tracker).

Imported every time mirplug starts, so it stays light: the logger itself lives in
``mirplug_myplugin.component`` and is only imported when a run chooses it with ``logger=myplugin``.
"""

from __future__ import annotations

from mirplug import LoggerSpec, Option, hookimpl


@hookimpl
def mirplug_register_loggers() -> list[LoggerSpec]:
    """Register the logger 'myplugin'."""
    return [
        LoggerSpec(
            name="myplugin",
            summary="per-epoch losses and the main metric in a CSV file of the run folder",
            factory="mirplug_myplugin.component:CsvLogger",
            options=(
                Option(name="file", type=str, default="epochs.csv",
                       help="the CSV file, in the run folder (one row per epoch and fold)"),
            ),
            license="MIT",
        )
    ]
