"""The foundation every layer may use: errors with exit codes, unit constants, the safe YAML loader with
line numbers, the parse cache, count parsing (``2T``, ``10k``) and a small memo.
"""
