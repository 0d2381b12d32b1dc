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
