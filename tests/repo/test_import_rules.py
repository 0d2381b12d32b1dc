"""The import rules of telepay/ ([tool.importlinter] in pyproject.toml) hold, and they bite: a
scratch copy of the tree with one wrong import breaks the contract it crosses."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")
PACKAGES = ("telepay", "shared_schemas", "functions", "local", "operator_cli", "scripts")


def lint_imports(tree: Path, *contracts: str) -> subprocess.CompletedProcess[str]:
    only = [arg for contract in contracts for arg in ("--contract", contract)]
    return subprocess.run(
        [str(LINT_IMPORTS), str(tree / "pyproject.toml"), "--no-cache", *only],
        cwd=tree,
        env={"PYTHONPATH": str(tree), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        check=False,
    )


def test_the_tree_keeps_every_import_rule() -> None:
    done = lint_imports(ROOT)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "0 broken" in done.stdout


@pytest.fixture(scope="module")
def scratch(tmp_path_factory: pytest.TempPathFactory) -> Path:
    tree = tmp_path_factory.mktemp("tree")
    shutil.copy(ROOT / "pyproject.toml", tree)
    for package in PACKAGES:
        shutil.copytree(
            ROOT / package, tree / package, ignore=shutil.ignore_patterns("__pycache__", "static")
        )
    return tree


@pytest.mark.parametrize(
    ("module", "wrong_import", "broken"),
    [
        # A feature importing another feature of the same layer.
        ("telepay/subscriptions/expiry.py", "from telepay.payouts import flow", "layers"),
        # A lower layer importing a higher one.
        ("telepay/core/claims.py", "from telepay import runtime", "layers"),
        # A pure rule reaching for an adapter.
        ("telepay/payments/settlement.py", "from telepay.adapters import telegram_api", "pure-rules"),
        ("shared_schemas/money.py", "from telepay.core import clock", "shared-schemas"),
        ("telepay/channels/lookup.py", "from local import fixtures", "runtime-is-deployed-alone"),
        # A circle inside a package: claims imports store, and now store claims.
        ("telepay/core/store.py", "from telepay.core import claims", "no-cycles"),
        # The stand-in's old circle (model -> views -> records), closed again.
        ("local/telegram_standin/records.py", "from local.telegram_standin import model", "no-cycles"),
    ],
)
def test_one_wrong_import_breaks_its_contract(
    scratch: Path, module: str, wrong_import: str, broken: str
) -> None:
    path = scratch / module
    original = path.read_text()
    try:
        path.write_text(original + f"\n{wrong_import}  # noqa\n")
        done = lint_imports(scratch, broken)
        everything = lint_imports(scratch)
    finally:
        path.write_text(original)
    assert done.returncode == 1, done.stdout
    assert "1 broken" in done.stdout
    importer = module[:-3].replace("/", ".")
    assert importer in done.stdout or f".{importer.rsplit('.', 1)[1]} ->" in done.stdout, done.stdout
    assert everything.returncode == 1, everything.stdout
    assert lint_imports(scratch, broken).returncode == 0  # the copy is whole again
