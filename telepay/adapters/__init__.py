"""Adapters to the outside world. Clients are built lazily, never at import time."""
