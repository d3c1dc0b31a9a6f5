"""Marsad: streaming ingestion of Arabic news."""

__version__ = "0.1.0"
