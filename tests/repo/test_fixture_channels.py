"""Tests, drills and benchmarks make their channels the ways people do: through the bot's /newchannel,
`telepay channels register` (`local.fixtures.register_channel`) or, for documents the unit and
integration tests store themselves, `tests.conftest.demo_channel`; each applies the channel rules
(`telepay.channels.settings`). Here: every channel those fixtures make passes the rules, a channel
the rules refuse is refused by them, and no test or script writes a channel around them (a scratch
copy of the tree with one such write is caught)."""

from __future__ import annotations

import ast
import re
import shutil
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from local.fixtures import (
    change_channel,
    instant_payouts,
    night_owls,
    register_channel,
    threshold_payouts,
    tron_address,
)
from operator_cli.channel_file import ChannelFileError
from scripts import bench_broadcast
from shared_schemas.documents import ChannelStatus
from telepay.channels.settings import validate_channel
from tests.conftest import demo_channel
from tests.memory_store import MemoryStore

ROOT = Path(__file__).resolve().parents[2]
SCANNED = ("tests", "scripts", "local")
# Files that write channels themselves, and why they may.
ALLOWED = {
    "tests/conftest.py": "demo_channel: what it builds goes through the channel rules",
    "local/fixtures.py": "registers and changes channels through `telepay channels register` and `update`",
    "tests/integration/test_store_contract.py": "the store port's own contract, on demo_channel documents",
}
# Calls whose result passed the channel rules: such a channel may be stored as it is.
CHECKED = {"demo_channel", "validate_channel", "register_channel", "change_channel"}
WRITES = {"set", "create", "update"}

OWNER, OPEN, CLOSED = 5001, -1001000000001, -1001000000002


# -- every channel the fixtures make passes the rules ---------------------------------------------
FIXTURE_CHANNELS: dict[str, dict[str, Any]] = {
    # local.fixtures.setup_channel: the end-to-end tests' channel and the benchmarks'.
    "setup_channel": night_owls(OWNER, OPEN, CLOSED, token="Fixture0001"),
    # The drills' channel and the instant owner of tests/e2e/test_payouts.py.
    "setup_channel, instant payouts": night_owls(
        OWNER, OPEN, CLOSED, token="Fixture0002", **instant_payouts(tron_address("instant"))
    ),
    # The threshold owner of tests/e2e/test_payouts.py.
    "setup_channel, threshold payouts": night_owls(
        OWNER, OPEN, CLOSED, token="Fixture0003", **threshold_payouts(tron_address("threshold"), "15")
    ),
    "bench_broadcast": bench_broadcast.channel_settings(7, OWNER, OPEN),
}


@pytest.mark.parametrize("name", list(FIXTURE_CHANNELS))
def test_every_channel_the_stack_fixtures_register_passes_the_channel_rules(name: str) -> None:
    settings = FIXTURE_CHANNELS[name]
    store = MemoryStore()
    registered = register_channel(store, settings)
    assert store.channels.get(registered.token) == registered
    assert registered.status is ChannelStatus.ACTIVE
    checked = validate_channel(registered.model_dump())
    assert not isinstance(checked, list), checked


def test_the_unit_tests_channel_passes_the_channel_rules() -> None:
    channel = demo_channel()
    assert validate_channel(channel.model_dump()) == channel


@pytest.mark.parametrize(
    ("settings", "problem"),
    [
        (instant_payouts("T123"), "payout_wallet"),
        ({"tiers": [{"price": "4,99", "days": 30}]}, "tiers[0].price"),
        (
            {"payout_currency": "usdt", "payout_network": "btc", "payout_wallet": tron_address("x")},
            "payout_network",
        ),
        ({"title": " "}, "title"),
    ],
)
def test_a_fixture_channel_the_rules_refuse_is_refused(settings: dict[str, Any], problem: str) -> None:
    with pytest.raises(ChannelFileError) as refused:
        register_channel(MemoryStore(), night_owls(OWNER, OPEN, CLOSED, **settings))
    assert problem in [p.field for p in refused.value.problems]


@pytest.mark.parametrize(
    ("changes", "problem"),
    [
        ({"title": " "}, "title"),
        ({"donation_min": Decimal("50"), "donation_max": Decimal("10")}, "donation_max"),
        ({"payout_currency": "usdt", "payout_network": "trx", "payout_wallet": "T123"}, "payout_wallet"),
        ({"grace_period_minutes": 7 * 24 * 60 + 1}, "grace_period_minutes"),
    ],
)
def test_a_unit_test_channel_the_rules_refuse_is_refused(changes: dict[str, Any], problem: str) -> None:
    with pytest.raises(ValueError, match=f"demo_channel breaks the channel rules: .*{re.escape(problem)}: "):
        demo_channel(**changes)


def test_a_change_the_rules_refuse_is_refused() -> None:
    store = MemoryStore()
    channel = register_channel(store, FIXTURE_CHANNELS["setup_channel"])
    with pytest.raises(ChannelFileError) as refused:
        change_channel(store, channel.token, {"grace_period_minutes": -5})
    assert [p.field for p in refused.value.problems] == ["grace_period_minutes"]
    assert store.channels.get(channel.token) == channel


# -- no test or script writes a channel around the rules ----------------------------------------
def _called(call: ast.Call) -> str | None:
    func = call.func
    return func.attr if isinstance(func, ast.Attribute) else func.id if isinstance(func, ast.Name) else None


def _names_channels_collection(node: ast.AST) -> bool:
    """`….collection("channels")` or `….collection(Collection.CHANNELS.value)` somewhere in `node`."""
    for inner in ast.walk(node):
        if isinstance(inner, ast.Call) and _called(inner) == "collection" and inner.args:
            first = inner.args[0]
            if isinstance(first, ast.Constant) and first.value == "channels":
                return True
            if any(isinstance(a, ast.Attribute) and a.attr == "CHANNELS" for a in ast.walk(first)):
                return True
    return False


def _is_channels_repository(node: ast.AST) -> bool:
    """`store.channels`, `rt.store.channels`, `store(endpoints).channels`: the store's channels."""
    return isinstance(node, ast.Attribute) and node.attr == "channels"


def _assigned(scope: ast.AST, value_matches: Any) -> set[str]:
    """Names a scope assigns from a matching value (a function's body, or the module's statements)."""
    body = scope.body if isinstance(scope, ast.Module) else [scope]
    return {
        target.id
        for statement in body
        if not (
            isinstance(scope, ast.Module) and isinstance(statement, ast.FunctionDef | ast.AsyncFunctionDef)
        )
        for node in ast.walk(statement)
        if isinstance(node, ast.Assign) and value_matches(node.value)
        for target in node.targets
        if isinstance(target, ast.Name)
    }


def _scopes(tree: ast.Module) -> dict[ast.AST, list[ast.AST]]:
    """Each node's enclosing functions, innermost last, after the module."""
    found: dict[ast.AST, list[ast.AST]] = {}

    def visit(node: ast.AST, enclosing: list[ast.AST]) -> None:
        found[node] = enclosing
        inner = [*enclosing, node] if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) else enclosing
        for child in ast.iter_child_nodes(node):
            visit(child, inner)

    visit(tree, [tree])
    return found


def channel_writes(path: Path, root: Path) -> list[str]:
    """Every place in one file that writes a channel document without the channel rules."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    scopes = _scopes(tree)

    def names(node: ast.AST, value_matches: Any) -> set[str]:
        return set().union(*(_assigned(scope, value_matches) for scope in scopes[node]))

    def passed_the_rules(doc: ast.expr | None) -> bool:
        if isinstance(doc, ast.Call):
            return _called(doc) in CHECKED
        checked = names(doc, lambda v: isinstance(v, ast.Call) and _called(v) in CHECKED) if doc else set()
        return isinstance(doc, ast.Name) and doc.id in checked

    def channels_ref(node: ast.AST) -> bool:
        if _names_channels_collection(node):
            return True
        return isinstance(node, ast.Name) and node.id in names(node, _names_channels_collection)

    found = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        name, func, why = _called(node), node.func, None
        if name == "ChannelDoc" or (
            isinstance(func, ast.Attribute)
            and isinstance(func.value, ast.Name)
            and func.value.id == "ChannelDoc"
            and func.attr.startswith("model_")
        ):
            why = "a ChannelDoc built without the channel rules"
        elif name in WRITES and isinstance(func, ast.Attribute):
            if channels_ref(func.value) or any(channels_ref(a) for a in node.args):
                why = "Firestore's channels collection written directly"
            elif _is_channels_repository(func.value):  # store.channels.set(token, doc)
                doc = node.args[1] if len(node.args) > 1 else None
                if name == "update" or not passed_the_rules(doc):
                    why = f"store.channels.{name} without the channel rules"
            elif node.args and _is_channels_repository(node.args[0]):  # tx.set(store.channels, token, doc)
                doc = node.args[2] if len(node.args) > 2 else None
                if name == "update" or not passed_the_rules(doc):
                    why = f"a transaction's {name} of a channel without the channel rules"
        elif name == "save_channel" and not passed_the_rules(node.args[1] if len(node.args) > 1 else None):
            why = "save_channel of a channel that did not pass the channel rules"
        if why:
            found.append(f"{path.relative_to(root)}:{node.lineno}: {why}: {ast.unparse(node)[:90]}")
    return found


def channel_writes_in(root: Path) -> list[str]:
    found = []
    for folder in SCANNED:
        for path in sorted((root / folder).rglob("*.py")):
            relative = path.relative_to(root).as_posix()
            if relative not in ALLOWED:
                found += channel_writes(path, root)
    return found


def test_no_test_or_script_writes_a_channel_around_the_channel_rules() -> None:
    assert channel_writes_in(ROOT) == [], (
        "make channels with the bot's /newchannel, local.fixtures.register_channel / change_channel "
        "(`telepay channels register` / `update`) or tests.conftest.demo_channel"
    )
    for allowed in ALLOWED:
        assert (ROOT / allowed).is_file(), allowed


@pytest.fixture(scope="module")
def scratch(tmp_path_factory: pytest.TempPathFactory) -> Path:
    tree = tmp_path_factory.mktemp("tree")
    for folder in SCANNED:
        shutil.copytree(ROOT / folder, tree / folder, ignore=shutil.ignore_patterns("__pycache__", "*.json"))
    return tree


GOOD = """
def _fine(store, db, token):
    save_channel(store, demo_channel())
    channel = demo_channel(token="Other000001")
    store.channels.set(channel.token, channel)
    register_channel(store, night_owls(1, -1001, -1002))
    db.collection("channels").document(token).get()
"""


@pytest.mark.parametrize(
    "bad",
    [
        'store(endpoints).channels.update(token, {"payout_wallet": "T123"})',
        'db.collection("channels").document(token).set({"title": ""})',
        "batch.set(db.collection(Collection.CHANNELS.value).document(token), {})",
        "ref = db.collection('channels').document(token)\n    ref.update({'title': ''})",
        "save_channel(store, channel)",
        "store.channels.set(token, ChannelDoc.model_validate(fields))",
        "tx.set(store.channels, token, channel)",
    ],
)
def test_one_channel_written_around_the_rules_is_caught(scratch: Path, bad: str) -> None:
    path = scratch / "tests" / "e2e" / "flows.py"
    original = path.read_text()
    try:
        path.write_text(
            original + GOOD + f"\n\ndef _bad(store, db, batch, tx, token, channel, fields):\n    {bad}\n"
        )
        found = channel_writes_in(scratch)
    finally:
        path.write_text(original)
    assert found and all(line.startswith("tests/e2e/flows.py:") for line in found), found
    assert len(found) == 1 or "ChannelDoc" in bad, found
    assert channel_writes_in(scratch) == []  # the copy is whole again
