"""One error taxonomy for every trigger, mapped once at the edge (the entry points).

- `Transient`: trying again later may succeed (a service down or rate limited, a claim held by
  another instance, a publish that failed). HTTP entry points answer 503, task targets answer 503
  so Cloud Tasks retries with backoff, the Pub/Sub push target raises so the message is redelivered
  and finally dead-lettered.
- `Permanent`: trying again would fail the same way (Telegram refused the request, NowPayments
  rejected it, a malformed message of our own making). It is recorded where an operator sees it
  (`failed_updates`, the dead-letter topic, an error log that Terraform alerts on), never dropped
  silently.

Adapters raise subclasses of these two, so a flow only catches the specific errors it can act on
(a user who blocked the bot, Telegram's retry_after) and lets the rest reach the edge.
"""

from __future__ import annotations


class TelePayError(Exception):
    """Base of every error TelePay raises on purpose."""


class Transient(TelePayError):
    """Worth another attempt: answer 503 / nack / let the task retry."""


class Permanent(TelePayError):
    """Another attempt fails the same way: record it for the operator."""


class RetryLater(Transient):
    """A flow decided the work cannot finish now (e.g. NowPayments is down, a publish failed)."""


class ClaimBusy(Transient):
    """Another instance holds the claim on this work right now; if it dies, its lease runs out and
    a later attempt takes the work over."""

    def __init__(self, purpose: str, key: str) -> None:
        super().__init__(f"{purpose}:{key} is being handled by another instance")
        self.purpose = purpose
        self.key = key


class Malformed(Permanent):
    """A message or task of our own making could not be parsed (a bug or a version skew)."""
