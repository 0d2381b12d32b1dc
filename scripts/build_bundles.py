"""Build each function's deployable source: build/bundles/<function>/ with its main.py, the shared
packages (`telepay`, `shared_schemas`) and a pinned requirements.txt (the runtime dependency
closure, versions from requirements.lock). Terraform zips each folder and names it by its hash.

    python -m scripts.build_bundles
"""

from __future__ import annotations

import hashlib
import re
import shutil
import sys
from importlib import metadata
from pathlib import Path

from shared_schemas.names import FUNCTIONS

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "build" / "bundles"
SHARED_PACKAGES = ("telepay", "shared_schemas")
RUNTIME_ROOTS = [
    re.split(r"[=<>\[ ;]", requirement, maxsplit=1)[0]
    for requirement in (metadata.requires("telepay") or [])
    if "extra ==" not in requirement
]


# Settings that let every entry module load outside Google Cloud (to import-check and time them).
BUNDLE_CHECK_ENV = {
    "GOOGLE_CLOUD_PROJECT": "bundle-check",
    "TELEGRAM_BOT_TOKEN": "1:bundle",
    "TELEGRAM_BOT_USERNAME": "bundlebot",
    "TELEGRAM_WEBHOOK_SECRET": "bundle-check-webhook-secret",
    "NOWPAYMENTS_API_KEY": "bundle-key",
    "NOWPAYMENTS_IPN_SECRET": "bundle-ipn",
    "NOWPAYMENTS_EMAIL": "bundle@example.invalid",
    "NOWPAYMENTS_PASSWORD": "bundle-password",
    "NOWPAYMENTS_2FA_SECRET": "JBSWY3DPEHPK3PXP",
    "IPN_CALLBACK_URL": "https://example.invalid/ipn",
    "CREATE_INVOICE_URL": "https://example.invalid/ci",
    "KEYPAD_URL": "https://example.invalid/kp",
    "EXPIRE_SUBSCRIPTIONS_URL": "https://example.invalid/ex",
    "TASKS_INVOKER_SERVICE_ACCOUNT": "tasks-invoker@example.iam.gserviceaccount.com",
    "LOG_LEVEL": "WARNING",
}


def _canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _locked() -> dict[str, str]:
    pins = {}
    for line in (ROOT / "requirements.lock").read_text().splitlines():
        if "==" in line and not line.startswith("#"):
            name, version = line.split("==", 1)
            pins[_canonical(name)] = version.strip()
    return pins


def runtime_requirements() -> list[str]:
    """The runtime closure of the project's dependencies, pinned as the lock pins them."""
    pins = _locked()
    seen: set[str] = set()
    todo = [_canonical(n) for n in RUNTIME_ROOTS]
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        for requirement in metadata.requires(name) or []:
            if "extra ==" in requirement:
                continue
            marker = requirement.split(";", 1)[1] if ";" in requirement else ""
            if marker and not _marker_applies(marker):
                continue
            todo.append(_canonical(re.split(r"[=<>!~\[ ;(]", requirement, maxsplit=1)[0]))
    missing = sorted(n for n in seen if n not in pins)
    if missing:
        raise SystemExit(f"not in requirements.lock: {', '.join(missing)}")
    return [f"{name}=={pins[name]}" for name in sorted(seen)]


def _marker_applies(marker: str) -> bool:
    from packaging.markers import Marker

    return Marker(marker).evaluate({"extra": ""})


def _ignore(_: str, names: list[str]) -> list[str]:
    return [n for n in names if n == "__pycache__" or n.endswith(".pyc")]


def build(out: Path = OUT) -> dict[str, str]:
    requirements = "\n".join(runtime_requirements()) + "\n"
    hashes = {}
    for spec in FUNCTIONS:
        target = out / spec.name.value
        shutil.rmtree(target, ignore_errors=True)
        target.mkdir(parents=True)
        shutil.copy2(ROOT / "functions" / spec.name.value / "main.py", target / "main.py")
        static = ROOT / "functions" / spec.name.value / "static"  # a function's own files (owner_app's page)
        if static.is_dir():
            shutil.copytree(static, target / "static", ignore=_ignore)
        for package in SHARED_PACKAGES:
            shutil.copytree(ROOT / package, target / package, ignore=_ignore)
        (target / "requirements.txt").write_text(requirements)
        hashes[spec.name.value] = _tree_hash(target)
    return hashes


def _tree_hash(folder: Path) -> str:
    digest = hashlib.sha256()
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        digest.update(str(path.relative_to(folder)).encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def main() -> int:
    for name, digest in build().items():
        print(f"{name:<22} build/bundles/{name}  ({digest})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
