"""The one error family of mirplug.

Every error a user can cause derives from :class:`MirplugError`. The CLI prints such an
error as one line (``error: <message>``) and exits non-zero; ``MIRPLUG_DEBUG=1`` shows the
traceback instead.

Internal module: plugin authors import the error classes from :mod:`mirplug`, which is the stable
API; everything else here may change in any release.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable


class MirplugError(Exception):
    """Base class of every error mirplug reports to a user."""


class ConfigError(MirplugError):
    """A key or value in the configuration or the overrides is wrong."""


class UnknownComponentError(ConfigError):
    """A component name (task, backbone, ...) is not in the catalog."""


class DataError(MirplugError):
    """A dataset cannot be used as given (no audio, one class, too few clips, ...)."""


class PluginError(MirplugError):
    """A plugin is broken: it failed to import, its hook raised or it misnamed a hook."""


class RunError(MirplugError):
    """A run folder is missing or incomplete."""


class RunInterrupted(KeyboardInterrupt):
    """A run was interrupted (Ctrl-C) after its run folder was made; ``folder`` can be resumed.

    A ``KeyboardInterrupt``, not a :class:`MirplugError`: code that stops on Ctrl-C still stops.
    """

    def __init__(self, folder: object) -> None:
        super().__init__(f"interrupted; continue with mirplug run --resume {folder}")
        self.folder = folder


class EnvironmentBrokenError(MirplugError):
    """A compiled dependency (torch, torchaudio, numpy, ...) does not load: the environment, not a plugin,
    is broken (see :mod:`mirplug.environment`)."""


def did_you_mean(word: str, choices: Iterable[str]) -> str:
    """Return ``" (did you mean 'x'?)"`` for the closest choice, or an empty string.

    The cutoff is 0.7: at difflib's default 0.6, 'nope' would suggest 'openl3' (three letters shared)."""
    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.7)
    return f" (did you mean '{close[0]}'?)" if close else ""


def choices_text(choices: Iterable[str]) -> str:
    """Format a list of valid choices for an error message."""
    items = sorted(choices)
    return ", ".join(items) if items else "(none)"


def one_line(message: object) -> str:
    """``message`` as the one line the CLI prints: line breaks a user typed (``'=\\n'``) are shown escaped."""
    return "".join(repr(char)[1:-1] if char in _LINE_BREAKS else char for char in str(message))


_LINE_BREAKS = "\n\r\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029"  # what str.splitlines splits at
