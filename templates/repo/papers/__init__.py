"""One package per paper; see README.md for the index."""
