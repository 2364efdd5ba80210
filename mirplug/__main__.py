"""``python -m mirplug`` (what ``torchrun ... -m mirplug run ...`` starts): the same as the ``mirplug`` command."""

from mirplug.cli import main

if __name__ == "__main__":
    main()
