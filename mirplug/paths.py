"""Where mirplug keeps its cache and its user configuration.

Internal module: plugin authors import ``cache_dir`` from :mod:`mirplug`, which is the stable API;
everything else here may change in any release.
"""

from __future__ import annotations

import os
from pathlib import Path


def cache_dir() -> Path:
    """The cache folder: ``$MIRPLUG_CACHE_DIR`` or the platform's user cache folder."""
    if os.environ.get("MIRPLUG_CACHE_DIR"):
        return Path(os.environ["MIRPLUG_CACHE_DIR"]).expanduser()
    import platformdirs

    return Path(platformdirs.user_cache_dir("mirplug"))


def config_dir() -> Path:
    """The user configuration folder: ``$MIRPLUG_CONFIG_DIR`` or the platform's."""
    if os.environ.get("MIRPLUG_CONFIG_DIR"):
        return Path(os.environ["MIRPLUG_CONFIG_DIR"]).expanduser()
    import platformdirs

    return Path(platformdirs.user_config_dir("mirplug"))
