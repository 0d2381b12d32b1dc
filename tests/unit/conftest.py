"""Fixtures of the unit tests: `catalogs` (every language but English has a marked catalog)."""

from __future__ import annotations

from tests.fake_catalogs import catalogs  # noqa: F401 (a fixture)
