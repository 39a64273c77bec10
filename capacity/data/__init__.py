"""Loading and choosing the world's numbers: ``specs/`` (chips, presets, runs, assumptions, efficiency),
Hugging Face ``config.json`` files, ``capacity bench`` calibrations, which default or measured constant
applies to a request (with its source), goodput and the Monte Carlo spreads.
"""
