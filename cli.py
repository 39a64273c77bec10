"""Run the command-line app from a source checkout: ``python cli.py chips``."""

from capacity.cli import main

if __name__ == "__main__":
    main()
