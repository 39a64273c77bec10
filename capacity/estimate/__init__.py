"""The planners: one construction site per request (``requests``), the training planner (``train`` ->
``step_model`` -> ``layout`` search over ``formulas.step_time`` and ``formulas.memory``), the deadline solve,
the serving planner and ``--explain``.
"""
