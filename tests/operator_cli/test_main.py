"""The operator CLI (`telepay`) on the in-memory store: every command, invalid channel files with
each bad field named, and support grants and revokes that the bot and the expiry sweep honour."""

from __future__ import annotations

import json
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
from click.testing import CliRunner, Result

from operator_cli import failed_tasks
from operator_cli.context import Operator
from operator_cli.main import cli
from shared_schemas.config import ExpireSubscriptionsSettings, TelegramWebhookSettings
from shared_schemas.documents import (
    ChannelChangeDoc,
    FailedTaskDoc,
    FailedUpdateDoc,
    OrderDoc,
    OrderStatus,
    PaymentStatus,
    SubscriptionStatus,
)
from shared_schemas.ids import OrderKind, subscription_id
from shared_schemas.names import QUEUES, Function
from shared_schemas.queries import SUPPORT_ACTIONS_OF_USER
from shared_schemas.tasks import (
    TASK_PAYLOADS,
    BroadcastTask,
    ExpiryAction,
    ExpiryTask,
)
from shared_schemas.telegram import ALLOWED_UPDATES
from telepay.bot.webhook import handle_update
from telepay.channels.lookup import forget_cached_channels, save_channel
from telepay.core.clock import FrozenClock
from telepay.owners import announcements
from telepay.subscriptions import broadcast
from telepay.subscriptions.expiry import sweep
from tests.conftest import demo_channel
from tests.fakes import RecordingTasks
from tests.harness import NOW, active_subscription, fakes, runtime
from tests.memory_store import MemoryStore

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "docs" / "channel.example.json"
BUYER = 424242
TOKEN = "DemoChannel01"


def run(store: MemoryStore, *args: str, clock: FrozenClock | None = None, **op: Any) -> Result:
    operator = Operator(store_=store, clock=clock or FrozenClock(NOW), operator="ops@example.test", **op)
    return CliRunner().invoke(cli, list(args), obj=operator)


def ok(result: Result) -> Result:
    assert result.exit_code == 0, (result.output, result.exception)
    return result


def channel_file(tmp_path: Path, **changes: Any) -> Path:
    data = json.loads(EXAMPLE.read_text()) | changes
    path = tmp_path / "channel.json"
    path.write_text(json.dumps({k: v for k, v in data.items() if v is not None}))
    return path


# -- channels ------------------------------------------------------------------------------------
def test_the_example_file_registers(tmp_path: Path) -> None:
    store = MemoryStore()
    result = ok(run(store, "--json", "channels", "register", str(EXAMPLE)))
    channel = store.channels.get("NightOwls2026")
    assert channel is not None and json.loads(result.output)["token"] == "NightOwls2026"
    assert channel.tiers[1].price == Decimal("12.50") and channel.payout_threshold == Decimal("50.00")
    assert channel.created_at == NOW and channel.donation_message == "Thank you for keeping the lights on!"
    assert "exists already" in run(store, "channels", "register", str(EXAMPLE)).stderr


def test_a_tier_has_a_star_price_of_its_own_or_a_converted_one(tmp_path: Path) -> None:
    store = MemoryStore()
    result = ok(run(store, "channels", "register", str(EXAMPLE)))
    assert "5.00 USD/30d, 12.50 USD or 600 XTR/90d" in result.output
    channel = store.channels.get("NightOwls2026")
    assert channel is not None and [t.stars for t in channel.tiers] == [None, 600]
    path = tmp_path / "u.json"
    tiers = [{"price": "250", "days": 30}, {"price": "12.50", "days": 90, "stars": "auto"}]
    path.write_text(json.dumps({"tiers": tiers}))
    result = ok(run(store, "--json", "channels", "update", "NightOwls2026", str(path)))
    notes = [n for n in json.loads(result.output)["notes"] if n["field"].endswith(".stars")]
    assert notes == [
        {
            "field": "tiers[0].stars",
            "note": "Heads-up: $250.00 is more than ⭐10,000 at $0.02 a Star, Telegram's limit, so this "
            "tier is sold in crypto only. Set a price in Stars of your own to sell it in Stars too.",
        }
    ]
    channel = store.channels.get("NightOwls2026")
    assert channel is not None and [t.stars for t in channel.tiers] == [None, None]
    # A rate of the operator's: $0.05 a Star puts $250 at 5,000 Stars, so no note; Stars off, none either.
    for env in ({"STARS_USD_PRICE": "0.05"}, {"STARS_ENABLED": "false"}):
        result = ok(run(store, "--json", "channels", "update", "NightOwls2026", str(path), env=env))
        assert [n for n in json.loads(result.output)["notes"] if n["field"].endswith(".stars")] == []


@pytest.mark.parametrize(
    ("stars", "reason"),
    [
        (
            0,
            "tiers[0].stars: Telegram takes from 1 to 10,000 Stars for one payment; send a number in that range.",
        ),
        (10001, "tiers[0].stars: Telegram takes from 1 to 10,000 Stars"),
        ("12.5", "tiers[0].stars: Send the price in Stars as a whole number, e.g. 250"),
    ],
)
def test_a_star_price_telegram_would_refuse_is_refused(tmp_path: Path, stars: Any, reason: str) -> None:
    store = MemoryStore()
    bad = channel_file(tmp_path, tiers=[{"price": "5", "days": 30, "stars": stars}])
    result = run(store, "channels", "register", str(bad))
    assert result.exit_code == 1 and reason in result.stderr
    assert store.channels.get("NightOwls2026") is None


def test_a_file_without_a_token_gets_one(tmp_path: Path) -> None:
    store = MemoryStore()
    result = ok(run(store, "--json", "channels", "register", str(channel_file(tmp_path, token=None))))
    token = json.loads(result.output)["token"]
    assert store.channels.get(token) is not None


def test_every_bad_field_is_named(tmp_path: Path) -> None:
    store = MemoryStore()
    bad = channel_file(
        tmp_path,
        title="",
        tiers=[{"price": "5", "days": 30}, {"price": "4,99", "days": 0}],
        donation_min="50",
        donation_max="10",
        payout_wallet="0xde0B295669a9FD93d5F28D9Ec85E40f4cb697BAe",
        owner_user_id="someone",
    )
    result = run(store, "channels", "register", str(bad))
    assert result.exit_code == 1 and result.stdout == ""
    for field in ("title", "tiers[1].price", "tiers[1].days", "donation_max", "payout_wallet"):
        assert f"  {field}: " in result.stderr, field
    assert "Use a dot for cents" in result.stderr
    assert store.channels.get("NightOwls2026") is None


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        ("{not json", "not JSON (line 1, column 2"),
        ("[1, 2]", "one JSON object"),
        ('{"titel": "x"}', "titel: not a channel setting"),
        ('{"token": "../x"}', "token: 6 to 24 letters and digits"),
    ],
)
def test_unusable_files_are_refused(tmp_path: Path, content: str, reason: str) -> None:
    path = tmp_path / "c.json"
    path.write_text(content)
    result = run(MemoryStore(), "channels", "register", str(path))
    assert result.exit_code == 1 and reason in result.stderr


def test_a_missing_file_is_an_error(tmp_path: Path) -> None:
    result = run(MemoryStore(), "channels", "register", str(tmp_path / "none.json"))
    assert result.exit_code == 1 and "cannot read it" in result.stderr


def test_a_closed_channel_belongs_to_one_offer(tmp_path: Path) -> None:
    store = MemoryStore()
    save_channel(store, demo_channel())
    result = run(store, "channels", "register", str(EXAMPLE))
    assert (
        result.exit_code == 1
        and "closed_channel_id: already the closed channel of DemoChannel01" in result.stderr
    )


def test_update_changes_the_given_settings_only(tmp_path: Path) -> None:
    store = MemoryStore()
    save_channel(store, demo_channel())
    path = tmp_path / "u.json"
    path.write_text(json.dumps({"title": "  Night   Owls  ", "grace_period_minutes": "30"}))
    result = ok(run(store, "channels", "update", TOKEN, str(path)))
    assert "updated DemoChannel01: title, grace_period_minutes" in result.output
    channel = store.channels.get(TOKEN)
    assert channel is not None and channel.title == "Night Owls" and channel.grace_period_minutes == 30
    assert channel.tiers == demo_channel().tiers and channel.updated_at == NOW
    [change] = [
        ChannelChangeDoc.model_validate(row.data)
        for (name, _), row in store._memory.rows.items()  # no query lists a whole collection
        if name == "channel_changes"
    ]
    assert change.source == "operator ops@example.test" and change.changes == {
        "title": {"before": "Night Owls Club", "after": "Night Owls"},
        "grace_period_minutes": {"before": 0, "after": 30},
    }

    path.write_text(json.dumps({"tiers": [{"price": "0", "days": 30}]}))
    result = run(store, "channels", "update", TOKEN, str(path))
    assert result.exit_code == 1 and "tiers[0].price: The price must be more than zero." in result.stderr
    assert run(store, "channels", "update", "NoSuchChannel", str(path)).exit_code == 1


def test_list_and_show() -> None:
    store = MemoryStore()
    save_channel(store, demo_channel())
    save_channel(store, demo_channel("OtherChan02", closed_channel_id=-1009, title="Other"))
    listing = ok(run(store, "channels", "list")).output
    assert listing.splitlines()[0].split()[:3] == ["TOKEN", "TITLE", "STATUS"]
    assert "DemoChannel01" in listing and "OtherChan02" in listing and "5.00 USD/30d" in listing
    assert [c["token"] for c in json.loads(ok(run(store, "--json", "channels", "list")).output)] == [
        "DemoChannel01",
        "OtherChan02",
    ]
    assert "Night Owls Club" in ok(run(store, "channels", "show", TOKEN)).output
    missing = run(store, "channels", "show", "NoSuchChannel")
    assert missing.exit_code == 1 and "no channel NoSuchChannel" in missing.stderr


# -- users and support access --------------------------------------------------------------------
def _order(store: MemoryStore) -> None:
    order_id = f"tp1-sub-{TOKEN}-{BUYER}-t1-abcdefghij"
    store.orders.set(
        order_id,
        OrderDoc(
            order_id=order_id,
            kind=OrderKind.SUBSCRIPTION,
            user_id=BUYER,
            chat_id=BUYER,
            channel_token=TOKEN,
            tier_id="t1",
            days=30,
            price_amount=Decimal("5.00"),
            price_currency="usd",
            status=OrderStatus.SETTLED,
            payment_id=777,
            payment_status=PaymentStatus.FINISHED,
            actually_paid=Decimal("0.0001"),
            pay_currency="btc",
            created_at=NOW,
            updated_at=NOW,
        ),
    )


def test_users_show() -> None:
    store = MemoryStore()
    save_channel(store, demo_channel())
    store.subscriptions.set(
        subscription_id(TOKEN, BUYER), active_subscription(BUYER, 10).model_copy(update={"user_id": BUYER})
    )
    _order(store)
    ok(run(store, "access", "grant", TOKEN, str(BUYER), "--days", "7", "--reason", "case 42: paid twice"))
    text = ok(run(store, "users", "show", str(BUYER))).output
    assert "Subscriptions" in text and "DemoChannel01" in text
    assert "777" in text and "finished" in text and "0.0001 btc" in text
    assert "grant" in text and "ops@example.test" in text and "case 42: paid twice" in text
    data = json.loads(ok(run(store, "--json", "users", "show", str(BUYER))).output)
    assert data["orders"][0]["payment_id"] == 777
    assert data["support_actions"][0]["operator"] == "ops@example.test"
    assert data["subscriptions"][0]["expires_at"].startswith("2026-12-13")  # 10 + 7 days


def _join(update_id: int, user: int) -> dict[str, Any]:
    return {
        "update_id": update_id,
        "chat_join_request": {
            "chat": {"id": demo_channel().closed_channel_id, "type": "channel"},
            "from": {"id": user, "is_bot": False, "first_name": "X"},
            "user_chat_id": user,
            "date": 0,
        },
    }


def test_a_grant_lets_the_user_in_and_a_revoke_gets_them_removed() -> None:
    store = MemoryStore()
    save_channel(store, demo_channel())
    forget_cached_channels()
    webhook = runtime(TelegramWebhookSettings, store)
    assert handle_update(_join(1, BUYER), webhook) == "join declined"

    result = ok(
        run(store, "access", "grant", TOKEN, str(BUYER), "--days", "30", "--reason", "influencer deal")
    )
    assert "grant: user 424242 on DemoChannel01, access now ends 2026-12-26 12:00 UTC" in result.output
    sub = store.subscriptions.get(subscription_id(TOKEN, BUYER))
    assert sub is not None and sub.expires_at == NOW + timedelta(days=30) and sub.next_action_at == NOW
    assert handle_update(_join(2, BUYER), webhook) == "join approved"

    # A grant on top extends from the current expiry, as a renewal does.
    ok(run(store, "access", "grant", TOKEN, str(BUYER), "--days", "5", "--reason", "sorry for the outage"))
    sub = store.subscriptions.get(subscription_id(TOKEN, BUYER))
    assert sub is not None and sub.expires_at == NOW + timedelta(days=35) and sub.in_channel

    later = NOW + timedelta(hours=1)
    ok(run(store, "access", "revoke", TOKEN, str(BUYER), "--reason", "chargeback", clock=FrozenClock(later)))
    sub = store.subscriptions.get(subscription_id(TOKEN, BUYER))
    assert sub is not None and sub.expires_at == later and sub.next_action_at == later
    expiry = runtime(ExpireSubscriptionsSettings, store, now=later + timedelta(minutes=1))
    assert sweep(expiry, "after-revoke")["queued"] == 1
    [(_, _, task, _)] = fakes(expiry)[2].created
    assert task.action is ExpiryAction.REMOVE and task.subscription_id == subscription_id(TOKEN, BUYER)
    assert (
        handle_update(_join(3, BUYER), runtime(TelegramWebhookSettings, store, now=later)) == "join declined"
    )

    actions = [a.action.value for a in store.support_actions.find(SUPPORT_ACTIONS_OF_USER, user_id=BUYER)]
    assert sorted(actions) == ["grant", "grant", "revoke"]


def test_access_errors_exit_non_zero() -> None:
    store = MemoryStore()
    save_channel(store, demo_channel())
    unknown = run(store, "access", "grant", "NoSuchChannel", "1", "--days", "3", "--reason", "x")
    assert unknown.exit_code == 1 and "no channel NoSuchChannel" in unknown.stderr
    nothing = run(store, "access", "revoke", TOKEN, "1", "--reason", "x")
    assert nothing.exit_code == 1 and "has no active access" in nothing.stderr
    assert run(store, "access", "grant", TOKEN, "1", "--days", "0", "--reason", "x").exit_code == 2
    assert run(store, "access", "grant", TOKEN, "1", "--days", "3").exit_code == 2
    assert run(store, "access", "grant", TOKEN, "1", "--days", "3", "--reason", " ").exit_code == 1
    assert store.subscriptions.get(subscription_id(TOKEN, 1)) is None


def test_the_operator_defaults_to_the_environment() -> None:
    store = MemoryStore()
    save_channel(store, demo_channel())
    operator = Operator(store_=store, clock=FrozenClock(NOW), env={"TELEPAY_OPERATOR": "alice@ops"})
    ok(CliRunner().invoke(cli, ["access", "grant", TOKEN, "9", "--days", "1", "--reason", "r"], obj=operator))
    [record] = store.support_actions.find(SUPPORT_ACTIONS_OF_USER, user_id=9)
    assert record.operator == "alice@ops"


# -- failed updates and failed tasks -------------------------------------------------------------
def test_failed_updates_newest_first() -> None:
    store = MemoryStore()
    for n in range(3):
        store.failed_updates.set(
            str(n),
            FailedUpdateDoc(
                update_id=n,
                reason=f"Permanent: bad {n}",
                update={"update_id": n, "message": {}},
                recorded_at=NOW + timedelta(minutes=n),
            ),
        )
    text = ok(run(store, "failed-updates", "list", "--limit", "2")).output
    assert "Permanent: bad 2" in text and "Permanent: bad 1" in text and "bad 0" not in text
    assert text.index("bad 2") < text.index("bad 1") and "message" in text
    assert [
        u["update_id"] for u in json.loads(ok(run(store, "--json", "failed-updates", "list")).output)
    ] == [2, 1, 0]


class FakeHold:
    def __init__(self) -> None:
        self.released: list[Any] = []

    def pull(self, max_messages: int) -> list[Any]:
        return []

    def release(self, letters: list[Any]) -> None:
        self.released += letters


def test_dead_letters_list_shows_failed_tasks(monkeypatch: pytest.MonkeyPatch) -> None:
    store = MemoryStore()
    store.failed_tasks.set(
        "create_invoice-t1",
        FailedTaskDoc(
            function=Function.CREATE_INVOICE,
            task_name="t1",
            reason="Malformed: no order",
            body="{}",
            attempt=1,
            recorded_at=NOW,
            expire_at=NOW + timedelta(days=30),
        ),
    )
    monkeypatch.setattr("operator_cli.main._hold", lambda op: FakeHold())
    text = ok(run(store, "dead-letters", "list")).output
    assert "create_invoice-t1" in text and "Malformed: no order" in text
    data = json.loads(ok(run(store, "--json", "dead-letters", "list")).output)
    assert data["events"] == [] and data["failed_tasks"][0]["function"] == "create_invoice"
    assert run(store, "dead-letters", "replay").exit_code == 1


# -- webhook ---------------------------------------------------------------------------------------
BOT_TOKEN = "123456:SECRET-bot-token-do-not-print"
SECRET = "webhook-secret-do-not-print-0123"


def test_webhook_set_and_info_never_print_the_secrets() -> None:
    calls: list[tuple[str, dict[str, Any]]] = []

    def telegram(request: httpx.Request) -> httpx.Response:
        method = request.url.path.rsplit("/", 1)[1]
        body = json.loads(request.content or b"{}")
        calls.append((method, body))
        if method == "setWebhook":
            return httpx.Response(200, json={"ok": True, "result": True, "description": "Webhook was set"})
        return httpx.Response(
            200,
            json={
                "ok": True,
                "result": {
                    "url": calls[0][1]["url"],
                    "pending_update_count": 0,
                    "allowed_updates": list(ALLOWED_UPDATES),
                },
            },
        )

    env = {
        "TELEGRAM_BOT_TOKEN": BOT_TOKEN,
        "TELEGRAM_WEBHOOK_SECRET": SECRET,
        "TELEGRAM_WEBHOOK_URL": "https://example.test/telegram_webhook",
    }
    transport = httpx.MockTransport(telegram)
    for args in (
        ["webhook", "set"],
        ["--json", "webhook", "set"],
        ["webhook", "info"],
        ["--json", "webhook", "info"],
    ):
        result = ok(run(MemoryStore(), *args, env=env, http_transport=transport))
        assert BOT_TOKEN not in result.output and SECRET not in result.output
    method, body = calls[0]
    assert method == "setWebhook" and body == {
        "url": "https://example.test/telegram_webhook",
        "secret_token": SECRET,
        "allowed_updates": list(ALLOWED_UPDATES),
    }
    assert (
        "https://example.test/telegram_webhook"
        in ok(run(MemoryStore(), "webhook", "info", env=env, http_transport=transport)).output
    )


def test_webhook_errors_never_print_the_secrets() -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        return httpx.Response(401, json={"ok": False, "description": f"Unauthorized {BOT_TOKEN}"})

    def down(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError(f"cannot reach {request.url}")

    env = {
        "TELEGRAM_BOT_TOKEN": BOT_TOKEN,
        "TELEGRAM_WEBHOOK_SECRET": SECRET,
        "TELEGRAM_WEBHOOK_URL": "https://x.test/",
    }
    for handler, reason in (
        (refuse, "Telegram refused setWebhook: Unauthorized ***"),
        (down, "ConnectError"),
    ):
        result = run(MemoryStore(), "webhook", "set", env=env, http_transport=httpx.MockTransport(handler))
        assert result.exit_code == 1 and reason in result.stderr
        assert BOT_TOKEN not in result.output and SECRET not in result.output
    missing = run(MemoryStore(), "webhook", "set", env={})
    assert missing.exit_code == 1 and "TELEGRAM_WEBHOOK_URL is not set" in missing.stderr
    weak = run(MemoryStore(), "webhook", "set", env=env | {"TELEGRAM_WEBHOOK_SECRET": "short"})
    assert weak.exit_code == 1 and "16-256 characters" in weak.stderr


def test_the_subscription_stays_active_until_the_sweep_removes_it() -> None:
    store = MemoryStore()
    save_channel(store, demo_channel())
    ok(run(store, "access", "grant", TOKEN, str(BUYER), "--days", "1", "--reason", "trial"))
    ok(run(store, "access", "revoke", TOKEN, str(BUYER), "--reason", "trial over"))
    sub = store.subscriptions.get(subscription_id(TOKEN, BUYER))
    assert sub is not None and sub.status is SubscriptionStatus.ACTIVE and sub.expires_at == NOW


def _failed_task(store: MemoryStore, function: Function, body: str, name: str = "t1") -> str:
    doc_id = f"{function.value}-{name}"
    store.failed_tasks.set(
        doc_id,
        FailedTaskDoc(
            function=function,
            task_name=name,
            reason="Permanent: refused",
            body=body,
            attempt=3,
            recorded_at=NOW,
            expire_at=NOW + timedelta(days=30),
        ),
    )
    return doc_id


def test_failed_tasks_are_queued_again_to_their_function() -> None:
    store = MemoryStore()
    tasks = RecordingTasks()
    expiry = ExpiryTask(action=ExpiryAction.REMOVE, subscription_id="DemoChannel01-1", expires_at=NOW)
    removal = _failed_task(store, Function.EXPIRE_SUBSCRIPTIONS, expiry.model_dump_json())
    broken = _failed_task(store, Function.CREATE_INVOICE, '{"order_id": 1}')
    env = {"EXPIRE_SUBSCRIPTIONS_URL": "https://expire.test", "CREATE_INVOICE_URL": "https://invoice.test"}

    result = ok(run(store, "--json", "dead-letters", "replay", removal, env=env, tasks_=tasks))
    [(queue, url, payload, name)] = tasks.created
    assert (queue, url, payload) == ("telegram-actions", "https://expire.test/task", expiry)
    assert name is not None and name.startswith("replay-t1-")
    assert json.loads(result.output)["replayed"][0]["queue"] == "telegram-actions"
    assert store.failed_tasks.get(removal) is None

    refused = run(store, "dead-letters", "replay", broken, env=env, tasks_=tasks)
    assert refused.exit_code == 1 and "its body is no CreateInvoiceTask" in refused.stderr
    assert store.failed_tasks.get(broken) is not None and len(tasks.created) == 1


def test_every_queue_has_its_tasks_routed_to_the_function_it_targets() -> None:
    routed = {(route.queue, route.function) for route in failed_tasks.ROUTES}
    assert {(spec.name, spec.target) for spec in QUEUES} == routed
    own_paths = {announcements.TASK_PATH, broadcast.TASK_PATH}  # the queue's target serves them too
    assert all(TASK_PAYLOADS[route.queue] is route.model or route.path in own_paths
               for route in failed_tasks.ROUTES)  # fmt: skip


def test_an_offer_post_an_earlier_release_recorded_is_replayed_where_posts_go_now() -> None:
    """Releases before the posts moved to telegram-actions recorded them as daily_broadcast's tasks
    (its own `broadcast` queue, which the upgrade removes)."""
    store = MemoryStore()
    tasks = RecordingTasks()
    post = BroadcastTask(channel_token=TOKEN, day="2026-12-01")
    earlier = _failed_task(store, Function.DAILY_BROADCAST, post.model_dump_json())
    env = {"EXPIRE_SUBSCRIPTIONS_URL": "https://expire.test"}

    result = ok(run(store, "--json", "dead-letters", "replay", earlier, env=env, tasks_=tasks))
    [(queue, url, payload, _)] = tasks.created
    assert (queue, url, payload) == ("telegram-actions", "https://expire.test/task/broadcast", post)
    assert json.loads(result.output)["replayed"][0]["path"] == "/task/broadcast"
    assert store.failed_tasks.get(earlier) is None


def test_the_readme_documents_every_field_of_a_channel_file() -> None:
    from operator_cli.channel_file import FILE_FIELDS

    readme = (ROOT / "README.md").read_text()
    section = readme[readme.index("## Operating TelePay") : readme.index("## Layout")]
    assert [name for name in FILE_FIELDS if f"`{name}`" not in section] == []
    assert set(json.loads(EXAMPLE.read_text())) <= set(FILE_FIELDS)


def test_transfer_moves_a_channel_to_its_new_creator_as_a_recorded_support_action() -> None:
    store = MemoryStore()
    save_channel(store, demo_channel())
    creator_of: dict[int, int] = {}  # chat id -> the user Telegram says created it
    sent: list[dict[str, Any]] = []

    def telegram(request: httpx.Request) -> httpx.Response:
        method = request.url.path.rsplit("/", 1)[1]
        body = json.loads(request.content)
        if method == "getChatMember":
            status = "creator" if creator_of.get(body["chat_id"]) == body["user_id"] else "administrator"
            return httpx.Response(200, json={"ok": True, "result": {"status": status, "user": {"id": 1}}})
        sent.append(body)
        return httpx.Response(200, json={"ok": True, "result": {"message_id": 1}})

    env = {"TELEGRAM_BOT_TOKEN": "123456:cli-test-token"}
    args = ("channels", "transfer", TOKEN, "--to", "6002", "--reason", "case 41: old account lost")
    channel = demo_channel()
    transport = httpx.MockTransport(telegram)
    # Not yet the creator in Telegram (an administrator only): refused, nothing changes.
    creator_of[channel.open_channel_id] = 6002
    refused = run(store, *args, env=env, http_transport=transport)
    assert refused.exit_code == 1 and "6002 is administrator of chat" in refused.stderr
    assert store.channels.get(TOKEN).owner_user_id == channel.owner_user_id  # type: ignore[union-attr]
    creator_of[channel.closed_channel_id] = 6002
    result = ok(run(store, *args, env=env, http_transport=transport))
    assert (
        f"{TOKEN} now belongs to 6002 (was {channel.owner_user_id}); the payout wallet stays" in result.output
    )
    moved = store.channels.get(TOKEN)
    assert moved is not None and moved.owner_user_id == 6002 and moved.payout_wallet == channel.payout_wallet
    [change] = [
        ChannelChangeDoc.model_validate(row.data)
        for (name, _), row in store._memory.rows.items()
        if name == "channel_changes"
    ]
    assert change.reason == "case 41: old account lost" and change.source == "operator ops@example.test"
    assert change.changes == {"owner_user_id": {"before": channel.owner_user_id, "after": 6002}}
    assert [m["chat_id"] for m in sent] == [6002, channel.owner_user_id]
    assert "is now yours" in sent[0]["text"] and "moved to another Telegram account" in sent[1]["text"]
    again = run(store, *args, env=env, http_transport=transport)
    assert again.exit_code == 1 and "already belongs to 6002" in again.stderr
