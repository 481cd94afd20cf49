"""Compiled kernels (Cython). Import only after validating inputs in Python."""
