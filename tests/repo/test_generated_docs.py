from __future__ import annotations

from pathlib import Path

import pytest

from scripts import gen_docs


def test_generated_docs_are_fresh() -> None:
    assert gen_docs.stale() == [], "run `make docs` and commit the result"


def test_a_changed_model_makes_the_docs_stale(monkeypatch: pytest.MonkeyPatch) -> None:
    original = gen_docs.schema_md
    monkeypatch.setitem(gen_docs.GENERATED, "docs/schema.md", lambda: original() + "\nnew field\n")
    assert gen_docs.stale() == ["docs/schema.md"]


def test_config_doc_lists_every_required_variable() -> None:
    text = (Path(gen_docs.ROOT) / "docs" / "config.md").read_text()
    for name in (
        "TELEGRAM_BOT_TOKEN",
        "TELEGRAM_WEBHOOK_SECRET",
        "TELEGRAM_API_BASE_URL",
        "NOWPAYMENTS_API_KEY",
        "NOWPAYMENTS_IPN_SECRET",
        "NOWPAYMENTS_API_BASE_URL",
        "GOOGLE_CLOUD_PROJECT",
        "FIRESTORE_EMULATOR_HOST",
        "PUBSUB_EMULATOR_HOST",
    ):
        assert f"`{name}`" in text


def test_the_error_policy_covers_every_trigger() -> None:
    from shared_schemas.names import FUNCTIONS

    text = (Path(gen_docs.ROOT) / "docs" / "flows.md").read_text()
    policy = text.split("## Errors: one policy for every trigger", 1)[1].split("\n## ", 1)[0]
    rows = [line for line in policy.splitlines() if line.startswith("| ") and not line.startswith("| ---")]
    named = " ".join(row.split(" | ")[0] for row in rows[1:])
    for spec in FUNCTIONS:
        assert spec.name.value in named, f"docs/flows.md's error policy has no row for {spec.name.value}"
