"""Read `terraform/` with python-hcl2 for the tests in test_terraform.py.

Terraform cannot run here, so the tests read the configuration as data: every block of every
`.tf` file, the `locals` tables (literal values mirroring shared_schemas), and the references
written inside expressions (`var.x`, `local.x`, `google_x.name[key].attribute`). Expressions
themselves are not evaluated: a value such as "${var.region}" stays that string.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import hcl2
from hcl2.utils import SerializationOptions

ROOT = Path(__file__).resolve().parents[2]
TERRAFORM_DIR = ROOT / "terraform"
SCHEMA_FIXTURE = Path(__file__).resolve().parent / "fixtures" / "provider_schema.json"

META_ARGUMENTS = {"count", "for_each", "depends_on", "lifecycle", "provider", "provisioner", "connection"}
MARKERS = {"__is_block__", "__comments__", "__inline_comments__", "__start_line__", "__end_line__"}

# google_x.name, google_x.name[key], then .attribute[0].attribute ... (not preceded by "data." or
# another identifier character).
RESOURCE_REFERENCE = re.compile(
    r"(?<![\w.])((?:google|archive|time)_[a-z0-9_]+)\.([a-z0-9_]+)(\[[^\]]*\])?((?:\.[a-z0-9_]+(?:\[\d+\])?)*)"
)
DATA_REFERENCE = re.compile(r"(?<![\w.])data\.([a-z0-9_]+)\.([a-z0-9_]+)(\[[^\]]*\])?((?:\.[a-z0-9_]+)*)")
VAR_REFERENCE = re.compile(r"(?<![\w.])var\.([a-z0-9_]+)")
LOCAL_REFERENCE = re.compile(r"(?<![\w.])local\.([a-z0-9_]+)")
CHECKOV_SKIP = re.compile(r"#\s*checkov:skip=([A-Z0-9_]+)(?::(.*))?")


@dataclass(frozen=True)
class Block:
    kind: str  # "resource" or "data"
    type: str
    name: str
    body: dict[str, Any]
    file: str

    @property
    def address(self) -> str:
        prefix = "data." if self.kind == "data" else ""
        return f"{prefix}{self.type}.{self.name}"


@dataclass
class Terraform:
    resources: dict[tuple[str, str], Block] = field(default_factory=dict)
    data: dict[tuple[str, str], Block] = field(default_factory=dict)
    variables: dict[str, dict[str, Any]] = field(default_factory=dict)
    outputs: dict[str, dict[str, Any]] = field(default_factory=dict)
    locals: dict[str, Any] = field(default_factory=dict)
    settings: list[dict[str, Any]] = field(default_factory=list)  # `terraform` blocks
    providers: dict[str, dict[str, Any]] = field(default_factory=dict)
    texts: dict[str, str] = field(default_factory=dict)  # file name => source text

    def resource(self, type_: str, name: str) -> dict[str, Any]:
        return self.resources[(type_, name)].body

    def of_type(self, type_: str) -> dict[str, dict[str, Any]]:
        return {name: block.body for (t, name), block in self.resources.items() if t == type_}

    def all_blocks(self) -> Iterator[Block]:
        yield from self.resources.values()
        yield from self.data.values()


def clean(value: Any) -> Any:
    """Drop python-hcl2's markers (block flags, comments) from a parsed value, recursively."""
    if isinstance(value, dict):
        return {k: clean(v) for k, v in value.items() if k not in MARKERS}
    if isinstance(value, list):
        return [clean(v) for v in value]
    return value


def expr(value: Any) -> str:
    """The expression inside "${...}" with whitespace normalised; other values as text."""
    text = str(value)
    if text.startswith("${") and text.endswith("}"):
        text = text[2:-1]
    return re.sub(r"\s+", " ", text).strip()


def is_block(value: Any) -> bool:
    return (
        isinstance(value, list)
        and bool(value)
        and all(isinstance(item, dict) and item.get("__is_block__") for item in value)
    )


def single_block(body: dict[str, Any], name: str) -> dict[str, Any]:
    """The only `name { ... }` block of a body (cleaned)."""
    blocks = body.get(name)
    assert isinstance(blocks, list) and is_block(blocks), f"`{name}` is not a block here"
    assert len(blocks) == 1, f"`{name}` appears {len(blocks)} times"
    block: dict[str, Any] = clean(blocks[0])
    return block


def strings(value: Any) -> Iterator[str]:
    """Every string (and key) inside a parsed value: where expressions and references live."""
    if isinstance(value, dict):
        for key, item in value.items():
            if key in MARKERS:
                continue
            yield str(key)
            yield from strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from strings(item)
    elif isinstance(value, str):
        yield value


def _merge_unique(target: dict[str, Any], items: dict[str, Any], what: str, file: str) -> None:
    for key, value in items.items():
        if key in MARKERS:
            continue
        assert key not in target, f"{what} {key} declared twice (again in {file})"
        target[key] = value


@cache
def load() -> Terraform:
    options = SerializationOptions(strip_string_quotes=True, with_comments=False)
    terraform = Terraform()
    files = sorted(TERRAFORM_DIR.glob("*.tf"))
    assert files, f"no .tf files in {TERRAFORM_DIR}"
    for path in files:
        text = path.read_text()
        terraform.texts[path.name] = text
        document = hcl2.loads(text, serialization_options=options)
        for kind, target in (("resource", terraform.resources), ("data", terraform.data)):
            for entry in document.get(kind, []):
                for type_, named in entry.items():
                    for name, body in named.items():
                        key = (type_, name)
                        assert key not in target, f"{kind} {type_}.{name} declared twice"
                        target[key] = Block(kind, type_, name, body, path.name)
        for entry in document.get("variable", []):
            _merge_unique(terraform.variables, entry, "variable", path.name)
        for entry in document.get("output", []):
            _merge_unique(terraform.outputs, entry, "output", path.name)
        for entry in document.get("locals", []):
            _merge_unique(terraform.locals, clean(entry), "local", path.name)
        for entry in document.get("provider", []):
            _merge_unique(terraform.providers, entry, "provider", path.name)
        terraform.settings.extend(document.get("terraform", []))
    return terraform


@cache
def provider_schema() -> dict[str, Any]:
    schema: dict[str, Any] = json.loads(SCHEMA_FIXTURE.read_text())
    return schema


def normalise_attribute(name: str) -> str:
    """Attribute names from the jsii manifest come back from camelCase, e.g. `output_base64_sha256`
    for `output_base64sha256`: compare without underscores."""
    return name.replace("_", "")


def schema_problems(body: dict[str, Any], schema: dict[str, Any], where: str) -> list[str]:
    """What `terraform validate` would reject in a block body: unknown arguments, blocks written as
    arguments or arguments as blocks, a single block repeated, missing required ones."""
    problems: list[str] = []
    arguments: dict[str, Any] = schema["arguments"]
    blocks: dict[str, Any] = schema["blocks"]
    present_blocks: dict[str, list[dict[str, Any]]] = {}
    for key, value in body.items():
        if key in MARKERS or key in META_ARGUMENTS:
            continue
        if key == "dynamic":
            for dynamic in value:
                for name, spec in dynamic.items():
                    if name in MARKERS:
                        continue
                    if name not in blocks:
                        problems.append(f"{where}: dynamic `{name}` is not a block of this type")
                        continue
                    present_blocks.setdefault(name, []).extend(spec["content"])
            continue
        if key in arguments:
            if is_block(value):
                problems.append(f"{where}: `{key}` is an argument, written as a block")
        elif key in blocks:
            if not is_block(value):
                problems.append(f"{where}: `{key}` is a block, written as an argument (`{key} = ...`)")
            else:
                present_blocks.setdefault(key, []).extend(value)
        else:
            problems.append(f"{where}: unknown argument or block `{key}`")
    for name, spec in arguments.items():
        if spec["required"] and name not in body:
            problems.append(f"{where}: required argument `{name}` missing")
    for name, spec in blocks.items():
        found = present_blocks.get(name, [])
        if spec["required"] and not found:
            problems.append(f"{where}: required block `{name}` missing")
        if not spec["repeated"] and len(found) > 1:
            problems.append(f"{where}: block `{name}` may appear once, appears {len(found)} times")
        for index, nested in enumerate(found):
            problems.extend(schema_problems(nested, spec, f"{where}.{name}[{index}]"))
    return problems


def attribute_path_problem(schema: dict[str, Any], path: str) -> str | None:
    """Check `.a[0].b` against a schema: each step must be an attribute, the ones before the last
    a nested block."""
    steps = [re.sub(r"\[\d+\]$", "", step) for step in path.strip(".").split(".") if step]
    current = schema
    for position, step in enumerate(steps):
        known = {normalise_attribute(a) for a in current["attributes"]} | set(current["blocks"])
        if normalise_attribute(step) not in known and step not in known:
            return f"no attribute `{step}`"
        if position + 1 < len(steps):
            if step not in current["blocks"]:
                return f"`{step}` has no attributes (not a nested block)"
            current = current["blocks"][step]
    return None


def references_outside(
    terraform: Terraform, pattern: re.Pattern[str], skip: tuple[str, str] | None
) -> set[str]:
    """Names a reference pattern finds in every value, except inside the skipped declaration
    (("variable", name) or ("local", name))."""
    found: set[str] = set()
    sources: list[tuple[tuple[str, str] | None, Any]] = []
    sources += [(("variable", name), body) for name, body in terraform.variables.items()]
    sources += [(("local", name), value) for name, value in terraform.locals.items()]
    sources += [(None, body) for body in terraform.outputs.values()]
    sources += [(None, block.body) for block in terraform.all_blocks()]
    sources += [(None, body) for body in terraform.providers.values()]
    for owner, value in sources:
        if skip is not None and owner == skip:
            continue
        for text in strings(value):
            found.update(pattern.findall(text))
    return found


def checkov_skips(terraform: Terraform) -> list[tuple[str, str, str, str | None]]:
    """(file, block header, check id, reason) for every `# checkov:skip=` comment."""
    skips = []
    for file, text in terraform.texts.items():
        header = ""
        for line in text.splitlines():
            if re.match(r"^(resource|data)\s", line):
                header = line.rstrip(" {")
            match = CHECKOV_SKIP.search(line)
            if match:
                reason = (match.group(2) or "").strip() or None
                skips.append((file, header, match.group(1), reason))
    return skips


EACH_VALUE = re.compile(r"\beach\.value\.([a-z0-9_]+)")


def literal_instances(terraform: Terraform, body: dict[str, Any]) -> dict[str, dict[str, Any]] | None:
    """The instances of a `for_each = local.<table>` over a literal table of `locals` (key => row),
    or None when for_each is anything else (a derived local or an expression)."""
    match = re.fullmatch(r"local\.([a-z0-9_]+)", expr(body.get("for_each", "")))
    table = terraform.locals.get(match.group(1)) if match else None
    if not isinstance(table, dict) or any(isinstance(v, str) and "${" in v for v in table.values()):
        return None
    return {str(key): row if isinstance(row, dict) else {"": row} for key, row in table.items()}


def with_instance(value: Any, key: str, row: dict[str, Any]) -> Any:
    """A value with `each.key` and `each.value.<field>` replaced by one instance's literals."""
    if isinstance(value, dict):
        return {k: with_instance(v, key, row) for k, v in value.items() if k not in MARKERS}
    if isinstance(value, list):
        return [with_instance(v, key, row) for v in value]
    if not isinstance(value, str):
        return value
    text = EACH_VALUE.sub(lambda m: json.dumps(row.get(m.group(1))), value)
    text = re.sub(r"\beach\.value\b", json.dumps(row.get("")), text)
    return re.sub(r"\beach\.key\b", json.dumps(key), text)
