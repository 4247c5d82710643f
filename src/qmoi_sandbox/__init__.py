"""QMOI's provider emulators: the Airtel Open API and Safaricom Daraja, on loopback.

Everything produced here is simulated and marked ``sandbox``. This package imports
nothing from ``qmoi``: the emulators are written from the providers' published
documentation (``docs/providers/``) independently of the connectors, so a
misunderstanding in one is caught by the other.
"""
