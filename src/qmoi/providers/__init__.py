"""Connectors to mobile-money providers, behind one interface (:mod:`qmoi.providers.base`)."""
