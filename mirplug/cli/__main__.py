"""``python -m mirplug.cli``: the same as the ``mirplug`` command."""

from mirplug.cli import main

if __name__ == "__main__":
    main()
