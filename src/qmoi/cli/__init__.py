"""The ``qmoi`` command line: one module per noun, a thin layer over the services."""
