"""The Telegram stand-in's formatting entities and sendPhoto, as the Bot API takes them: entities of
known types within the text (UTF-16 code units) on sendMessage and as a photo's caption_entities;
sendPhoto by the file_id of a photo a user sent (the largest size) or an upload, caption at most
1024; a user's own formatting and photos through the control API. Through python-telegram-bot."""

from __future__ import annotations

from typing import Any

import pytest
from telegram import Bot, InputFile, MessageEntity
from telegram.error import BadRequest

from tests.standins.test_telegram_standin import TOKEN, Harness, run, server_url, tg  # noqa: F401


def test_entities_in_utf16_units_arrive_intact(tg: Harness) -> None:  # noqa: F811
    alice = tg.started_user("Alice")
    text = "🦉 Big news"  # the owl counts two UTF-16 units
    entities = [MessageEntity("bold", 3, 3), MessageEntity("text_link", 7, 4, url="https://example.com")]

    async def scenario(bot: Bot) -> Any:
        return await bot.send_message(alice, text, entities=entities)

    sent = run(scenario, tg.url)
    assert [(e.type, e.offset, e.length) for e in sent.entities] == [("bold", 3, 3), ("text_link", 7, 4)]
    [kept] = tg.transcript(alice)
    assert kept["entities"] == [
        {"type": "bold", "offset": 3, "length": 3},
        {"type": "text_link", "offset": 7, "length": 4, "url": "https://example.com"},
    ]


@pytest.mark.parametrize(
    ("entity", "error"),
    [
        ({"type": "bold", "offset": 0, "length": 12}, "is beyond the end of the text"),
        ({"type": "bold", "offset": -1, "length": 2}, "is beyond the end of the text"),
        ({"type": "sparkle", "offset": 0, "length": 2}, 'unsupported entity type "sparkle"'),
        ({"type": "text_link", "offset": 0, "length": 2}, 'Field "url" must be of type String'),
    ],
)
def test_entities_outside_the_text_or_of_unknown_types_are_refused(
    tg: Harness,  # noqa: F811
    entity: dict[str, Any],
    error: str,
) -> None:
    alice = tg.started_user("Alice")
    answer = tg.api("sendMessage", chat_id=alice, text="🦉 Big news", entities=[entity])
    assert answer.status_code == 400 and error in answer.json()["description"], answer.text
    assert tg.transcript(alice) == []


def test_send_photo_by_a_users_file_id_with_caption_entities(tg: Harness) -> None:  # noqa: F811
    owner = tg.started_user("Owner")
    alice = tg.started_user("Alice")
    shown = tg.ctl(
        "POST",
        f"/users/{owner}/messages",
        {"text": "Meet us Friday", "photo": True, "entities": [{"type": "italic", "offset": 8, "length": 6}]},
    )["message"]
    assert "text" not in shown and shown["caption"] == "Meet us Friday"
    assert shown["caption_entities"] == [{"type": "italic", "offset": 8, "length": 6}]
    largest = shown["photo"][-1]["file_id"]

    async def scenario(bot: Bot) -> Any:
        return await bot.send_photo(
            alice, largest, caption="Meet us Friday", caption_entities=[MessageEntity("bold", 0, 4)]
        )

    sent = run(scenario, tg.url)
    assert sent.photo[-1].file_id == largest and sent.caption == "Meet us Friday"
    assert [(e.type, e.offset, e.length) for e in sent.caption_entities] == [("bold", 0, 4)]
    upload = tg.http.post(
        f"/bot{TOKEN}/sendPhoto", data={"chat_id": str(alice)}, files={"photo": ("a.jpg", b"\xff\xd8jpeg")}
    )
    assert upload.status_code == 200, upload.text
    assert upload.json()["result"]["photo"][-1]["file_id"].startswith("AgAC")


def test_send_photo_refusals(tg: Harness) -> None:  # noqa: F811
    alice = tg.started_user("Alice")
    unknown = tg.api("sendPhoto", chat_id=alice, photo="AgACnot-a-file")
    assert unknown.json()["description"] == "Bad Request: wrong file identifier/HTTP URL specified"
    missing = tg.api("sendPhoto", chat_id=alice)
    assert missing.json()["description"] == "Bad Request: there is no photo in the request"

    async def scenario(bot: Bot) -> Any:
        return await bot.send_photo(alice, InputFile(b"\xff\xd8jpeg", filename="p.jpg"), caption="x" * 1025)

    with pytest.raises(BadRequest, match="caption is too long"):
        run(scenario, tg.url)
    owner = tg.started_user("Owner")
    photo = tg.ctl("POST", f"/users/{owner}/messages", {"text": "hi", "photo": True})["message"]["photo"][-1]
    outside = tg.api(
        "sendPhoto",
        chat_id=alice,
        photo=photo["file_id"],
        caption="hi",
        caption_entities=[{"type": "bold", "offset": 0, "length": 5}],
    )
    assert "is beyond the end of the text" in outside.json()["description"]
    assert tg.transcript(alice) == []
