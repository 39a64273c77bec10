"""What is built on the planners: scenario files and their sweeps, chip comparisons, validation against
published data, and the Python API.
"""
