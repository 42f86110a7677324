"""lit2code: a literature-to-code pipeline."""

__version__ = "0.1.0"
