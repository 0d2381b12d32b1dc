"""The owner app's charting library (Chart.js) is the pinned one: `functions/owner_app/npm` pins
it (package.json and package-lock.json, as npm writes them), `vendored.json` records the file taken
from the package and its SHA-256, and the file served from `functions/owner_app/static` is exactly
that file. Updating it: change the version in package.json, `npm install --package-lock-only
--ignore-scripts`, `npm pack chart.js@<version>`, copy `package/dist/chart.umd.min.js` into
static/ and write its version and hash into vendored.json (README, "The owner app")."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
APP = ROOT / "functions" / "owner_app"


def test_the_vendored_chart_library_is_the_pinned_version_byte_for_byte() -> None:
    package = json.loads((APP / "npm" / "package.json").read_text())
    lock = json.loads((APP / "npm" / "package-lock.json").read_text())
    [(name, record)] = json.loads((APP / "npm" / "vendored.json").read_text()).items()
    pinned = package["dependencies"][record["package"]]
    assert pinned == record["version"], "package.json pins an exact version, the one vendored"
    locked = lock["packages"][f"node_modules/{record['package']}"]
    assert locked["version"] == pinned and locked["integrity"].startswith("sha512-")
    data = (APP / "static" / name).read_bytes()
    assert hashlib.sha256(data).hexdigest() == record["sha256"]
    assert f"Chart.js v{pinned}".encode() in data[:200]  # the file's own banner names its version


def test_the_page_loads_the_library_from_the_app_itself() -> None:
    page = (APP / "static" / "index.html").read_text()
    assert '<script src="chart.umd.min.js"></script>' in page
    assert "https://cdn" not in page and "unpkg" not in page and "jsdelivr" not in page
