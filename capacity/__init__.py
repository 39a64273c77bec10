"""capacity: an AI-compute capacity planner.

The library computes and returns pydantic models; it never prints or exits. The command-line
app in :mod:`capacity.cli` parses, calls and renders.
"""

__version__ = "0.1.0"
