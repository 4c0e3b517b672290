"""Helpers shared by several test modules (and by benchmarks): data builders and dataset readers.

Test modules import from here, never from one another; nothing in the packages imports it.
"""
