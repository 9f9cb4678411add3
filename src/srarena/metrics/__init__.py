"""Implementations of the built-in metrics."""
