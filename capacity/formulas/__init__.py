"""Small pure functions that read like the papers they cite: FLOPs, parameter counts, the model shape,
training memory, step time term by term, the KV cache, the decode roofline, links, cost and energy.
"""
