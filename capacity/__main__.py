"""``python -m capacity …`` runs the command-line app."""

from capacity.cli import main

main()
