"""``python -m mirplug`` (what ``torchrun ... -m mirplug run ...`` starts): the same as the ``mirplug`` command.

Internal: not part of the plugin API (that is :mod:`mirplug` and :mod:`mirplug.testing`); may change
in any release.
"""

from mirplug.cli import main

if __name__ == "__main__":
    main()
