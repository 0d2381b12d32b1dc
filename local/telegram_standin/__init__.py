"""Local stand-in for the Telegram Bot API, for TelePay's tests and demo (no internet needed).

It serves ``/bot<token>/<method>`` (GET and POST; query string, form-encoded, multipart or JSON
parameters) with Telegram's answer shapes and error descriptions, simulates a world of users,
channels and supergroups (and payments in Telegram Stars: invoices, pre-checkout queries,
refunds, subscriptions renewed as the world's clock moves), delivers updates by webhook (with Telegram's per-chat ordering, retries
and secret header) or ``getUpdates`` long polling, enforces Telegram's flood limits, and offers a
JSON control API under ``/_control/...`` to play the users and inspect what the bot did.

Run it::

    python -m local.telegram_standin --host 127.0.0.1 --port 8081 \\
        --bot-token 123456:ABC --bot-username telepay_bot [--bot-id ID] [--no-rate-limits]

or in process with :func:`create_app` (a Starlette app; webhook delivery runs in its lifespan).
python-telegram-bot works unmodified with ``Bot(token, base_url=f"{url}/bot")``.

Rate limits (on by default, per bot): message-producing calls (``sendMessage``) count toward 30
per second overall and toward the target chat's limit; edits (``editMessageText``,
``editMessageReplyMarkup``) count toward the chat's limit only. A private chat allows 1 per second
with bursts of 3, a group or channel 20 per minute. Past a limit: 429 ``Too Many Requests: retry
after N`` with ``parameters.retry_after``.

Every Bot API method, update type, control endpoint (paths, request and answer JSON) and known
deviation is documented in ``README.md`` beside this file.
"""

from .app import create_app

__all__ = ["create_app"]
