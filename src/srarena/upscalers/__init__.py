"""Implementations of the built-in upscalers."""
