"""``python -m mirplug.cli`` runs the command line."""

from mirplug.cli import main

main()
