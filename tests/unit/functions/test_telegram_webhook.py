"""telegram_webhook refuses anything without the secret token, before parsing it."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient
from functions_framework import create_app

ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture
def client(env_guard: None) -> FlaskClient:
    os.environ.update(
        {
            "GOOGLE_CLOUD_PROJECT": "unit",
            "TELEGRAM_BOT_TOKEN": "1:unit",
            "TELEGRAM_BOT_USERNAME": "unitbot",
            "TELEGRAM_WEBHOOK_SECRET": "the-right-secret",
            "NOWPAYMENTS_API_KEY": "unit-api-key",
            "CREATE_INVOICE_URL": "http://127.0.0.1:1/ci",
            "KEYPAD_URL": "http://127.0.0.1:1/kp",
            "EXPIRE_SUBSCRIPTIONS_URL": "http://127.0.0.1:1/ex",  # -- announcements --
            "CLOUD_TASKS_EMULATOR_HOST": "127.0.0.1:1",
            # Nothing listens here: a request that got past the secret check would fail loudly.
            "FIRESTORE_EMULATOR_HOST": "127.0.0.1:1",
        }
    )
    app: Flask = create_app("telegram_webhook", str(ROOT / "functions" / "telegram_webhook" / "main.py"))
    return app.test_client()


@pytest.mark.parametrize("headers", [{}, {"X-Telegram-Bot-Api-Secret-Token": "wrong"}])
def test_missing_or_wrong_secret_is_refused(client: FlaskClient, headers: dict[str, str]) -> None:
    response = client.post("/", data="{not even json", headers=headers, content_type="application/json")
    assert response.status_code == 403


def test_non_updates_with_the_secret_are_acknowledged_without_effect(client: FlaskClient) -> None:
    response = client.post(
        "/", json={"hello": 1}, headers={"X-Telegram-Bot-Api-Secret-Token": "the-right-secret"}
    )
    assert response.status_code == 200 and response.get_json()["outcome"] == "not an update"
