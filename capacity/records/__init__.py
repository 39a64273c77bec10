"""The vocabulary: the records the catalogue holds (a chip, a model preset, a published run) and the
choices a request is made of (precisions, economics, traffic, a parallel layout). No formulas, no I/O.
"""
