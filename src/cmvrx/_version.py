"""The cmvrx version: a leaf module (the engine imports it, never the package root)."""

__version__ = "0.1.0"
