"""Extract the part of the Terraform provider schemas that `terraform/` uses into a small fixture.

Terraform cannot be installed here, so `terraform validate` cannot run. The provider schemas are
reachable offline all the same: the npm packages `@cdktf/provider-google` 16.12.1 (generated from
`hashicorp/google` 6.50.0), `@cdktf/provider-google-beta` 16.12.1 (`hashicorp/google-beta` 6.50.0),
`@cdktf/provider-archive` 11.0.1 (`hashicorp/archive` 2.7.1) and `@cdktf/provider-time` 11.0.1
(`hashicorp/time` 0.13.1) ship a `.jsii` manifest describing every resource and data source, each
argument and nested block, and which are required, and the provider blocks' own arguments. This
script keeps only the resource and data source types that `terraform/` declares (a type missing
from the google provider is taken from google-beta) and the provider configurations, and writes
them to `tests/infra/fixtures/provider_schema.json`, which `tests/infra/test_terraform.py` checks
`terraform/` against (unknown arguments, blocks written as arguments, missing required arguments,
references to attributes that do not exist).

Regenerate after using a new resource type, or after moving the provider pins in
`terraform/versions.tf` (then change the package versions below too):

    .venv/bin/python scripts/extract_provider_schema.py            # runs `npm pack` in a temp dir
    .venv/bin/python scripts/extract_provider_schema.py --google-jsii /tmp/x/package/.jsii \\
        --google-beta-jsii /tmp/b/package/.jsii --archive-jsii /tmp/y/package/.jsii \\
        --time-jsii /tmp/t/package/.jsii                           # manifests unpacked already

Needs `npm` (only for the download) and `python-hcl2` (to list the types `terraform/` uses).
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import tarfile
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
TERRAFORM_DIR = ROOT / "terraform"
FIXTURE = ROOT / "tests" / "infra" / "fixtures" / "provider_schema.json"

PACKAGES = {
    "google": ("@cdktf/provider-google", "16.12.1", "hashicorp/google", "6.50.0"),
    "google-beta": ("@cdktf/provider-google-beta", "16.12.1", "hashicorp/google-beta", "6.50.0"),
    "archive": ("@cdktf/provider-archive", "11.0.1", "hashicorp/archive", "2.7.1"),
    "time": ("@cdktf/provider-time", "11.0.1", "hashicorp/time", "0.13.1"),
}
# The provider block's configuration struct in each manifest.
PROVIDER_CONFIGS = {
    "google": "@cdktf/provider-google.provider.GoogleProviderConfig",
    "google-beta": "@cdktf/provider-google-beta.provider.GoogleBetaProviderConfig",
    "archive": "@cdktf/provider-archive.provider.ArchiveProviderConfig",
    "time": "@cdktf/provider-time.provider.TimeProviderConfig",
}

# "Represents a {@link https://registry.terraform.io/.../docs/resources/pubsub_topic google_pubsub_topic}."
REPRESENTS = re.compile(r"docs/(resources|data-sources)/\S+ ([a-z0-9_]+)\}")
# "Docs at Terraform Registry: {@link https://...#ack_deadline_seconds PubsubSubscription#...}"
ANCHOR = re.compile(r"#([a-z0-9_]+) ")
NOT_ATTRIBUTES = {"tfResourceType", "internalValue", "fqn", "creationStack", "terraformResourceType"}


def snake(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


def download(package: str, version: str, into: Path) -> Path:
    """`npm pack` the package into `into` and return the path of its unpacked `.jsii`."""
    subprocess.run(
        ["npm", "pack", f"{package}@{version}", "--silent"], cwd=into, check=True, capture_output=True
    )
    tarball = next(into.glob("*.tgz"))
    with tarfile.open(tarball) as archive:
        member = archive.getmember("package/.jsii")
        archive.extractall(into, members=[member], filter="data")
    return into / "package" / ".jsii"


def used_types() -> dict[str, set[str]]:
    """Resource and data source types declared in terraform/*.tf."""
    import hcl2
    from hcl2.utils import SerializationOptions

    options = SerializationOptions(strip_string_quotes=True, with_comments=False)
    found: dict[str, set[str]] = {"resource": set(), "data": set()}
    for path in sorted(TERRAFORM_DIR.glob("*.tf")):
        with path.open() as handle:
            document = hcl2.load(handle, serialization_options=options)
        for kind in found:
            for block in document.get(kind, []):
                found[kind].update(block)
    return found


class Manifest:
    def __init__(self, path: Path) -> None:
        self.types: dict[str, Any] = json.loads(path.read_text())["types"]
        self.classes: dict[tuple[str, str], dict[str, Any]] = {}
        for jsii_type in self.types.values():
            match = REPRESENTS.search(jsii_type.get("docs", {}).get("summary", ""))
            if jsii_type.get("kind") == "class" and match:
                kind = "resource" if match.group(1) == "resources" else "data"
                self.classes[(kind, match.group(2))] = jsii_type

    def schema(self, kind: str, name: str) -> dict[str, Any] | None:
        jsii_class = self.classes.get((kind, name))
        if jsii_class is None:
            return None
        config = next(p for p in jsii_class["initializer"]["parameters"] if p["name"] == "config")
        result = self._struct(config["type"]["fqn"])
        result["attributes"] = sorted(set(result["attributes"]) | self._readable(jsii_class))
        return result

    def _readable(self, jsii_class: dict[str, Any]) -> set[str]:
        return {
            snake(p["name"])
            for p in jsii_class.get("properties", [])
            if not p["name"].endswith("Input") and p["name"] not in NOT_ATTRIBUTES and not p.get("static")
        }

    def _struct_fqn(self, type_ref: dict[str, Any]) -> tuple[str | None, bool]:
        """The nested block's struct fqn, and whether the block repeats (list or set)."""
        fqn = type_ref.get("fqn")
        if fqn and self.types.get(fqn, {}).get("datatype"):
            return fqn, False
        for option in type_ref.get("union", {}).get("types", []):
            element = option.get("collection", {}).get("elementtype", {})
            element_fqn = element.get("fqn")
            if element_fqn and self.types.get(element_fqn, {}).get("datatype"):
                return element_fqn, True
        return None, False

    def _struct(self, fqn: str) -> dict[str, Any]:
        arguments: dict[str, dict[str, bool]] = {}
        blocks: dict[str, dict[str, Any]] = {}
        for prop in self.types[fqn].get("properties", []):
            anchor = ANCHOR.search(prop.get("docs", {}).get("remarks", ""))
            name = anchor.group(1) if anchor else snake(prop["name"])
            required = not prop.get("optional", False)
            block_fqn, repeated = self._struct_fqn(prop["type"])
            if block_fqn is None:
                arguments[name] = {"required": required}
                continue
            nested = self._struct(block_fqn)
            output_reference = self.types.get(block_fqn + "OutputReference")
            if output_reference:
                nested["attributes"] = sorted(set(nested["attributes"]) | self._readable(output_reference))
            blocks[name] = {"required": required, "repeated": repeated, **nested}
        return {"arguments": arguments, "blocks": blocks, "attributes": sorted(arguments)}


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    for provider in PACKAGES:
        parser.add_argument(
            f"--{provider}-jsii", type=Path, help=f"unpacked .jsii of {PACKAGES[provider][0]}"
        )
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as temp:
        paths = {provider: getattr(args, f"{provider.replace('-', '_')}_jsii") for provider in PACKAGES}
        for provider, (package, version, _, _) in PACKAGES.items():
            if paths[provider] is None:
                into = Path(temp) / provider
                into.mkdir()
                paths[provider] = download(package, version, into)
        manifests = {provider: Manifest(path) for provider, path in paths.items() if path}

    fixture: dict[str, Any] = {
        "_about": (
            "Subset of the Terraform provider schemas used by terraform/, extracted from the cdktf "
            "npm packages' .jsii manifests by scripts/extract_provider_schema.py (see its docstring "
            "to regenerate). Do not edit by hand."
        ),
        "_providers": {
            provider: {"npm_package": f"{package}@{version}", "terraform_provider": f"{source} {tf_version}"}
            for provider, (package, version, source, tf_version) in PACKAGES.items()
        },
        "provider": {
            provider: manifests[provider]._struct(fqn) for provider, fqn in PROVIDER_CONFIGS.items()
        },
        "resource": {},
        "data": {},
    }
    missing = []
    for kind, names in used_types().items():
        for name in sorted(names):
            prefix = name.split("_", 1)[0]
            candidates = [prefix] if prefix in ("archive", "time") else ["google", "google-beta"]
            found = [(p, schema) for p in candidates if (schema := manifests[p].schema(kind, name))]
            if not found:
                missing.append(f"{kind} {name}")
            else:
                provider, schema = found[0]
                fixture[kind][name] = {**schema, "provider": provider}  # the provider that has it
    if missing:
        raise SystemExit(f"not in the provider manifests: {', '.join(missing)}")
    FIXTURE.parent.mkdir(parents=True, exist_ok=True)
    FIXTURE.write_text(json.dumps(fixture, indent=1, sort_keys=True) + "\n")
    print(
        f"wrote {FIXTURE.relative_to(ROOT)}: {len(fixture['resource'])} resources, "
        f"{len(fixture['data'])} data sources, {len(fixture['provider'])} provider configurations"
    )


if __name__ == "__main__":
    main()
