"""The README's layout is the tree's: every package and module of telepay/ is named there and every
path it names exists; tests/unit mirrors telepay/; and the paths named in docs and docstrings exist."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
TELEPAY = ROOT / "telepay"
TOP_FOLDERS = (
    "telepay",
    "tests",
    "local",
    "functions",
    "scripts",
    "shared_schemas",
    "operator_cli",
    "terraform",
    "docs",
)
# Mentions that look like paths but are not files of this repository.
NOT_PATHS = {"telepay/dev", "telepay/prod", "terraform/.build"}


def layout_block() -> list[str]:
    readme = (ROOT / "README.md").read_text()
    section = readme.split("\n## Layout\n", 1)[1]
    return section.split("```\n", 2)[1].splitlines()


def telepay_paragraphs() -> dict[str, str]:
    """Each `  name/` or `  name.py` line under `telepay/` with its continuation lines."""
    found: dict[str, str] = {}
    inside, current = False, None
    for line in layout_block():
        if re.match(r"^\S", line):
            inside = line.startswith("telepay/")
            current = None
            continue
        match = re.match(r"^  (\w+(?:/|\.py))\s", line)
        if inside and match:
            current = match.group(1)
            found[current] = line
        elif inside and current:
            found[current] += " " + line
    return found


def modules(package: Path) -> set[str]:
    return {p.stem for p in package.glob("*.py") if p.stem != "__init__"}


def test_every_package_and_module_of_telepay_is_in_the_readme_layout() -> None:
    paragraphs = telepay_paragraphs()
    packages = {p.name for p in TELEPAY.iterdir() if (p / "__init__.py").exists()}
    assert {name.rstrip("/") for name in paragraphs if name.endswith("/")} == packages
    assert {name for name in paragraphs if name.endswith(".py")} == {
        f"{stem}.py" for stem in modules(TELEPAY)
    }
    for package in packages:
        text = paragraphs[f"{package}/"]
        missing = {stem for stem in modules(TELEPAY / package) if not re.search(rf"\b{stem}\b", text)}
        assert not missing, f"README layout: telepay/{package}/ does not name {sorted(missing)}"


def test_every_path_in_the_readme_layout_exists() -> None:
    for line in layout_block():
        base = TELEPAY if re.match(r"^  \w", line) else ROOT
        first = line.split()[0] if line.strip() else ""
        if first and ("/" in first or first.endswith(".py")) and not line.startswith(" " * 5):
            assert "<" in first or (base / first).exists(), first
        for token in re.findall(
            r"(?<![\w/.-])((?:tests|telepay|functions|local|terraform)/[\w./-]+\w)", line
        ):
            assert (ROOT / token).exists(), token


def test_tests_unit_mirrors_telepay() -> None:
    """tests/unit/<package>/test_<module>.py tests telepay/<package>/<module>.py; a test of a flow
    across modules is test_<name>_flow.py, and a second module on one module test_<module>_<what>.py.
    The entry points' tests sit in tests/unit/functions/, shared_schemas' in tests/unit/shared_schemas/."""
    unit = ROOT / "tests" / "unit"
    for test in sorted(unit.rglob("test_*.py")):
        folder, name = test.parent.name, test.stem.removeprefix("test_")
        assert test.parent.parent == unit, f"{test.relative_to(ROOT)}: one folder per package"
        if folder == "functions":
            assert (ROOT / "functions" / name / "main.py").exists(), test.relative_to(ROOT)
            continue
        package = ROOT / "shared_schemas" if folder == "shared_schemas" else TELEPAY / folder
        assert (package / "__init__.py").exists(), f"{test.relative_to(ROOT)}: no package {folder}"
        known = modules(package)
        mirrored = name in known or any(name.startswith(f"{stem}_") for stem in known)
        assert mirrored or name.endswith("_flow"), f"{test.relative_to(ROOT)} tests no module of {folder}"


def test_paths_named_in_docs_and_docstrings_exist() -> None:
    pattern = re.compile(rf"(?<![\w./-])((?:{'|'.join(TOP_FOLDERS)})/[\w./-]*)")
    files = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True)
    missing = []
    for name in files.stdout.split():
        if not name.endswith((".py", ".md", ".tf", ".toml")) or not (ROOT / name).exists():
            continue
        for number, line in enumerate((ROOT / name).read_text().splitlines(), 1):
            for match in pattern.finditer(line):
                path = match.group(1).rstrip(".,:;)-")
                follows = line[match.end(1) : match.end(1) + 1]
                if follows in ("<", "*", "{", "…") or "//" in path or path.rstrip("/") in NOT_PATHS:
                    continue
                if not (ROOT / path).exists():
                    missing.append(f"{name}:{number}: {path}")
    assert missing == []
