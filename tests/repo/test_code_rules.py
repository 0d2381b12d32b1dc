"""Rules the code keeps: storage goes through the store port (only its Firestore implementation
touches Firestore, and queries come from their declarations so each has its index), Google's
clients live only in the adapters, business logic reads time only from the injected clock, and
clients are not built at import time."""

from __future__ import annotations

import ast
import re
from pathlib import Path

from shared_schemas.documents import all_composite_indexes
from shared_schemas.queries import QUERIES

ROOT = Path(__file__).resolve().parents[2]
RUNTIME = [p for folder in ("telepay", "functions") for p in (ROOT / folder).rglob("*.py")]
# The operator CLI: not deployed, but it too stores through the port and queries from declarations.
OPERATOR_CLI = list((ROOT / "operator_cli").rglob("*.py"))


FIRESTORE_STORE = ROOT / "telepay" / "adapters" / "firestore_store.py"


def test_only_the_firestore_store_touches_firestore() -> None:
    pattern = re.compile(
        r"\.where\(|\.order_by\(|FieldFilter|\.collection\(|google\.cloud\.firestore|import firestore"
    )
    offenders = [
        str(p.relative_to(ROOT))
        for p in RUNTIME + OPERATOR_CLI
        if p != FIRESTORE_STORE and pattern.search(p.read_text())
    ]
    assert offenders == [], "read and write through telepay.core.store; query with shared_schemas.queries"


def test_google_clients_are_imported_only_by_the_adapters() -> None:
    adapters = ROOT / "telepay" / "adapters"
    offenders = [
        str(path.relative_to(ROOT))
        for path in RUNTIME
        if adapters not in path.parents and re.search(r"^\s*(from|import) google\b", path.read_text(), re.M)
    ]
    assert offenders == []


def test_a_transaction_writes_a_subscription_only_through_the_dashboards_counts() -> None:
    """`day_counts.set_subscription` moves the member's end day on the channel's counts: a
    transaction that wrote a subscription around it would leave "ending in 7 days" wrong."""
    day_counts = ROOT / "telepay" / "channels" / "day_counts.py"
    pattern = re.compile(r"\b(tx|transaction)\.(set|merge)\(\s*store\.subscriptions\b")
    offenders = [
        str(p.relative_to(ROOT))
        for p in RUNTIME + OPERATOR_CLI
        if p != day_counts and pattern.search(p.read_text())
    ]
    assert offenders == []


def test_every_query_that_needs_a_composite_index_has_one() -> None:
    declared = {(i.collection, tuple(f.field_path for f in i.fields)) for i in all_composite_indexes()}
    for query in QUERIES:
        if query.needs_composite_index:
            assert (query.collection, query.index_fields) in declared, query.name
    assert len(declared) == sum(q.needs_composite_index for q in QUERIES)


def test_every_declared_query_is_used() -> None:
    code = "\n".join(path.read_text() for path in RUNTIME + OPERATOR_CLI)
    for query in QUERIES:
        assert re.search(rf"\b{query.name.upper()}\b", code), f"{query.name} is declared but never run"


def test_business_logic_reads_time_only_from_the_clock() -> None:
    wall_clock = re.compile(r"datetime\.now\(|datetime\.utcnow\(|time\.time\(|date\.today\(")
    offenders = [
        str(path.relative_to(ROOT))
        for path in RUNTIME
        if path.name != "clock.py" and wall_clock.search(path.read_text())
    ]
    assert offenders == []


def test_function_modules_build_no_clients_at_import() -> None:
    for path in (ROOT / "functions").rglob("main.py"):
        tree = ast.parse(path.read_text())
        for node in tree.body:
            if isinstance(node, ast.Assign | ast.AnnAssign):
                text = ast.unparse(node)
                assert "Client(" not in text and "TelegramApi(" not in text, f"{path}: {text}"
