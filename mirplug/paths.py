"""Where mirplug keeps its cache and its user configuration.

Internal module: plugin authors import ``cache_dir`` from :mod:`mirplug`, which is the stable API;
everything else here may change in any release.
"""

from __future__ import annotations

import os
from pathlib import Path


def cache_dir() -> Path:
    """The cache folder: ``$MIRPLUG_CACHE_DIR`` or the platform's user cache folder.

    Raises :class:`~mirplug.errors.ConfigError` (one line) when the path, or a folder above it,
    is an existing file: the cache could never be made there.
    """
    if os.environ.get("MIRPLUG_CACHE_DIR"):
        folder = Path(os.environ["MIRPLUG_CACHE_DIR"]).expanduser()
        where = f"MIRPLUG_CACHE_DIR={os.environ['MIRPLUG_CACHE_DIR']}"
    else:
        import platformdirs

        folder = Path(platformdirs.user_cache_dir("mirplug"))
        where = f"the cache folder {folder}"
    _check_folder(folder, where, "point MIRPLUG_CACHE_DIR at a folder (it is made if missing)")
    return folder


def _check_folder(folder: Path, where: str, fix: str) -> None:
    from mirplug.errors import ConfigError

    for path in (folder, *folder.parents):
        if path.exists():
            if not path.is_dir():
                what = "is a file" if path == folder else f"lies under {path}, which is a file"
                raise ConfigError(f"{where} {what}, not a folder; {fix}")
            return


def config_dir() -> Path:
    """The user configuration folder: ``$MIRPLUG_CONFIG_DIR`` or the platform's."""
    if os.environ.get("MIRPLUG_CONFIG_DIR"):
        return Path(os.environ["MIRPLUG_CONFIG_DIR"]).expanduser()
    import platformdirs

    return Path(platformdirs.user_config_dir("mirplug"))
