"""The money model: pure Python, no I/O, no frameworks. Everything else stands on it."""
