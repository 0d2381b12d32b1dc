"""Builds Firestore queries from their declarations in `shared_schemas.queries` (the only place in
the code that filters a collection, so every query's index is known)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from shared_schemas.queries import QuerySpec

if TYPE_CHECKING:
    from google.cloud.firestore import Client, Query


def build(db: Client, spec: QuerySpec, *, below: Any = None, **equals: Any) -> Query:
    """`equals` gives a value for each equality field; `below` bounds the range field (<=), whose
    order the results follow."""
    from google.cloud.firestore_v1.base_query import FieldFilter

    if set(equals) != set(spec.equals):
        raise ValueError(f"{spec.name} filters on {spec.equals}, got {tuple(equals)}")
    query: Any = db.collection(spec.collection.value)
    for name in spec.equals:
        query = query.where(filter=FieldFilter(name, "==", equals[name]))
    if spec.range_field is not None:
        if below is not None:
            query = query.where(filter=FieldFilter(spec.range_field, "<=", below))
        query = query.order_by(spec.range_field)
    return query  # type: ignore[no-any-return]
