"""Each function's deploy bundle imports its entry point on its own (no repository on the path)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from scripts.build_bundles import BUNDLE_CHECK_ENV, build
from shared_schemas.names import FUNCTIONS, FunctionSpec

ENV = BUNDLE_CHECK_ENV


@pytest.fixture(scope="module")
def bundles(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Built in a folder of this test run's own: two runs at once must not rebuild each other's."""
    out = tmp_path_factory.mktemp("bundles")
    build(out)
    return out


@pytest.mark.parametrize("spec", FUNCTIONS, ids=[s.name.value for s in FUNCTIONS])
def test_entry_point_imports_from_its_bundle_alone(bundles: Path, spec: FunctionSpec) -> None:
    folder = bundles / spec.name.value
    assert (folder / "requirements.txt").read_text().count("==") > 10
    code = (
        "import sys, main, telepay, shared_schemas;"
        f"assert callable(main.{spec.entry_point});"
        "assert telepay.__file__.startswith(sys.argv[1]), telepay.__file__;"
        "assert shared_schemas.__file__.startswith(sys.argv[1]), shared_schemas.__file__"
    )
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"} | ENV
    result = subprocess.run(
        [sys.executable, "-c", code, str(folder)],
        cwd=folder,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr[-2000:]


def test_the_owner_app_bundle_serves_its_page_alone(bundles: Path) -> None:
    """The page and its script are in the bundle, served by the entry point from there."""
    folder = bundles / "owner_app"
    assert {p.name for p in (folder / "static").iterdir()} >= {
        "index.html",
        "app.js",
        "app.css",
        "chart.umd.min.js",
    }
    code = (
        "import sys, main;"
        "client = main.functions_framework.create_app('owner_app', 'main.py').test_client();"
        "page = client.get('/'); script = client.get('/app.js'); api = client.get('/api/me');"
        "assert page.status_code == 200 and b'app.js' in page.data, page.status_code;"
        "assert script.status_code == 200 and b'tma ' in script.data;"
        "assert api.status_code == 401, api.status_code;"
        "chart = client.get('/chart.umd.min.js');"
        "assert chart.status_code == 200 and b'Chart.js v4.6.1' in chart.data[:200], chart.status_code;"
        "assert chart.headers['Content-Type'].startswith('text/javascript');"
        "assert client.get('/../main.py').status_code == 404"
    )
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"} | ENV
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=folder, env=env, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr[-2000:]
