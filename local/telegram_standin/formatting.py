"""Message text formatting: ``parse_mode`` (HTML, MarkdownV2, Markdown) and ``entities``.

Telegram parses the markup of a message on its servers: the stored text has the tags removed and
the formatting kept as entities whose offsets and lengths count UTF-16 code units. Markup that
Telegram cannot parse is refused with ``Bad Request: can't parse entities: ...``, the error a bot
meets in production when, for example, user-provided text with ``<`` is sent with ``parse_mode=HTML``
or a ``.`` is left unescaped in MarkdownV2. This module implements the common subset of the three
syntaxes, with TDLib's error messages (the Bot API prefixes them and lower-cases the first letter).
"""

from __future__ import annotations

import html
import json
import re
from typing import Any

from .protocol import ApiError, bad_request, utf16_len

Entity = dict[str, Any]

_HTML_TAGS = {
    "a",
    "b",
    "strong",
    "i",
    "em",
    "s",
    "strike",
    "del",
    "u",
    "ins",
    "tg-spoiler",
    "tg-emoji",
    "span",
    "pre",
    "code",
    "blockquote",
}
_HTML_TYPES = {
    "b": "bold",
    "strong": "bold",
    "i": "italic",
    "em": "italic",
    "s": "strikethrough",
    "strike": "strikethrough",
    "del": "strikethrough",
    "u": "underline",
    "ins": "underline",
    "tg-spoiler": "spoiler",
    "span": "spoiler",
    "code": "code",
    "pre": "pre",
    "blockquote": "blockquote",
    "a": "text_link",
    "tg-emoji": "custom_emoji",
}


class ParseError(Exception):
    pass


def _byte_offset(text: str, index: int) -> int:
    return len(text[:index].encode("utf-8"))


def _decode_html_entity(text: str, i: int) -> tuple[str, int] | None:
    """Decodes ``&name;`` or ``&#NN;`` at ``text[i]``; None when it is a literal ``&``."""
    m = re.match(r"&(#[0-9]{1,7}|#[xX][0-9a-fA-F]{1,6}|lt|gt|amp|quot);", text[i:])
    if not m:
        return None
    return html.unescape(m.group(0)), i + len(m.group(0))


def parse_html(text: str) -> tuple[str, list[Entity]]:
    out: list[str] = []
    pos16 = 0
    entities: list[Entity] = []
    stack: list[tuple[str, int, dict[str, str], int]] = []  # tag, utf16 start, attrs, raw index
    i = 0
    n = len(text)
    while i < n:
        ch = text[i]
        if ch == "&":
            decoded = _decode_html_entity(text, i)
            if decoded is not None:
                out.append(decoded[0])
                pos16 += utf16_len(decoded[0])
                i = decoded[1]
                continue
        if ch != "<":
            out.append(ch)
            pos16 += utf16_len(ch)
            i += 1
            continue
        begin = i
        i += 1
        if i < n and text[i] == "/":
            i += 1
            name_start = i
            while i < n and not text[i].isspace() and text[i] != ">":
                i += 1
            end_name = text[name_start:i].lower()
            while i < n and text[i].isspace():
                i += 1
            if i >= n or text[i] != ">":
                raise ParseError(f"Unclosed end tag at byte offset {_byte_offset(text, begin)}")
            i += 1
            if not stack:
                raise ParseError(f"Unexpected end tag at byte offset {_byte_offset(text, begin)}")
            tag, start16, open_attrs, _raw = stack[-1]
            if end_name and end_name != tag:
                raise ParseError(
                    f"Unmatched end tag at byte offset {_byte_offset(text, begin)}, "
                    f'expected "</{tag}>", found "</{end_name}>"'
                )
            stack.pop()
            length = pos16 - start16
            if length > 0:
                entity: Entity = {"type": _HTML_TYPES[tag], "offset": start16, "length": length}
                if tag == "a":
                    url = open_attrs.get("href") or "".join(out)[-length:]
                    m = re.match(r"tg://user\?id=(\d+)$", url)
                    if m:
                        entity = {
                            "type": "text_mention",
                            "offset": start16,
                            "length": length,
                            "user": {"id": int(m.group(1)), "is_bot": False, "first_name": ""},
                        }
                    else:
                        entity["url"] = url
                elif tag == "pre" and open_attrs.get("language"):
                    entity["language"] = open_attrs["language"]
                elif tag == "tg-emoji":
                    entity["custom_emoji_id"] = open_attrs.get("emoji-id", "")
                elif tag == "blockquote" and "expandable" in open_attrs:
                    entity["type"] = "expandable_blockquote"
                elif tag == "code" and stack and stack[-1][0] == "pre" and open_attrs.get("class", ""):
                    # <pre><code class="language-x"> gives the pre entity its language.
                    lang = open_attrs["class"].removeprefix("language-")
                    stack[-1][2]["language"] = lang
                    continue
                entities.append(entity)
            continue
        name_start = i
        while i < n and not text[i].isspace() and text[i] != ">":
            i += 1
        if i >= n:
            raise ParseError(f"Unclosed start tag at byte offset {_byte_offset(text, begin)}")
        tag = text[name_start:i].lower()
        if tag not in _HTML_TAGS:
            raise ParseError(f'Unsupported start tag "{tag}" at byte offset {_byte_offset(text, begin)}')
        attrs: dict[str, str] = {}
        while True:
            while i < n and text[i].isspace():
                i += 1
            if i >= n:
                raise ParseError(f'Unclosed start tag "{tag}" at byte offset {_byte_offset(text, begin)}')
            if text[i] == ">":
                i += 1
                break
            attr_start = i
            while i < n and not text[i].isspace() and text[i] not in "=>/\"'":
                i += 1
            attr = text[attr_start:i].lower()
            if not attr:
                raise ParseError(
                    f'Empty attribute name in the tag "{tag}" at byte offset {_byte_offset(text, begin)}'
                )
            while i < n and text[i].isspace():
                i += 1
            if i >= n or text[i] != "=":
                attrs[attr] = ""
                continue
            i += 1
            while i < n and text[i].isspace():
                i += 1
            if i >= n:
                raise ParseError(f'Unclosed start tag "{tag}" at byte offset {_byte_offset(text, begin)}')
            if text[i] in "\"'":
                quote = text[i]
                i += 1
                value_chars: list[str] = []
                while i < n and text[i] != quote:
                    if text[i] == "&":
                        decoded = _decode_html_entity(text, i)
                        if decoded is not None:
                            value_chars.append(decoded[0])
                            i = decoded[1]
                            continue
                    value_chars.append(text[i])
                    i += 1
                if i >= n:
                    raise ParseError(f"Unclosed start tag at byte offset {_byte_offset(text, begin)}")
                i += 1
                value = "".join(value_chars)
            else:
                value_start = i
                while i < n and (text[i].isalnum() or text[i] in ".-_"):
                    i += 1
                value = text[value_start:i].lower()
                if i < n and not text[i].isspace() and text[i] != ">":
                    raise ParseError(f"Unexpected end of name token at byte offset {_byte_offset(text, i)}")
            attrs[attr] = value
        if tag == "span" and attrs.get("class") != "tg-spoiler":
            raise ParseError(
                f'Tag "span" must have class "tg-spoiler" at byte offset {_byte_offset(text, begin)}'
            )
        if tag == "pre" and "class" in attrs:
            attrs["language"] = attrs["class"].removeprefix("language-")
        stack.append((tag, pos16, attrs, begin))
    if stack:
        raise ParseError(f'Can\'t find end tag corresponding to start tag "{stack[-1][0]}"')
    return "".join(out), entities


_MDV2_RESERVED = "_*[]()~`>#+-=|{}.!"


def parse_markdown_v2(text: str) -> tuple[str, list[Entity]]:
    out: list[str] = []
    pos16 = 0
    entities: list[Entity] = []
    stack: list[tuple[str, int, int, str]] = []  # type, utf16 start, byte offset, language
    i = 0
    n = len(text)
    line_start = True
    quote_start: int | None = None
    while i < n:
        ch = text[i]
        top = stack[-1][0] if stack else ""
        if ch == "\\" and i + 1 < n and 0 < ord(text[i + 1]) <= 126:
            out.append(text[i + 1])
            pos16 += 1
            line_start = text[i + 1] == "\n"
            i += 2
            continue
        if top in ("code", "pre"):
            is_end = ch == "`" and (top == "code" or text.startswith("```", i))
            if not is_end:
                out.append(ch)
                pos16 += utf16_len(ch)
                i += 1
                continue
        if ch == "\n":
            if quote_start is not None and not text.startswith(">", i + 1):
                if pos16 > quote_start:
                    entities.append(
                        {"type": "blockquote", "offset": quote_start, "length": pos16 - quote_start}
                    )
                quote_start = None
            out.append(ch)
            pos16 += 1
            line_start = True
            i += 1
            continue
        if ch not in _MDV2_RESERVED:
            out.append(ch)
            pos16 += utf16_len(ch)
            line_start = False
            i += 1
            continue
        if ch == ">" and line_start:
            if quote_start is None:
                quote_start = pos16
            line_start = False
            i += 1
            continue
        line_start = False
        kind = ""
        width = 1
        if ch == "*":
            kind = "bold"
        elif ch == "_":
            if text.startswith("__", i) and top != "italic":
                kind, width = "underline", 2
            else:
                kind = "italic"
        elif ch == "~":
            kind = "strikethrough"
        elif ch == "|" and text.startswith("||", i):
            kind, width = "spoiler", 2
        elif ch == "`":
            if text.startswith("```", i):
                kind, width = "pre", 3
            else:
                kind = "code"
        elif ch == "[" or (ch == "]" and top == "text_link"):
            kind = "text_link"
        elif ch == "!" and text.startswith("![", i):
            kind, width = "custom_emoji", 2
        elif ch == "]" and top == "custom_emoji":
            kind = "custom_emoji"
        else:
            raise ParseError(f"Character '{ch}' is reserved and must be escaped with the preceding '\\'")
        if stack and stack[-1][0] == kind and ch != "[" and not (ch == "!" and kind == "custom_emoji"):
            _kind, start16, _boff, language = stack.pop()
            i += width
            entity: Entity = {"type": kind, "offset": start16, "length": pos16 - start16}
            if kind in ("text_link", "custom_emoji"):
                if i >= n or text[i] != "(":
                    if kind == "custom_emoji":
                        raise ParseError("Custom emoji entity must contain a tg://emoji URL")
                    entity["url"] = "".join(out)[-(pos16 - start16) :] if pos16 > start16 else ""
                else:
                    url_begin = _byte_offset(text, i + 1)
                    i += 1
                    url_chars: list[str] = []
                    while i < n and text[i] != ")":
                        if text[i] == "\\" and i + 1 < n:
                            url_chars.append(text[i + 1])
                            i += 2
                            continue
                        url_chars.append(text[i])
                        i += 1
                    if i >= n:
                        raise ParseError(f"Can't find end of a URL at byte offset {url_begin}")
                    i += 1
                    url = "".join(url_chars)
                    if kind == "custom_emoji":
                        entity["custom_emoji_id"] = url.rsplit("=", 1)[-1]
                    else:
                        entity["url"] = url
            if kind == "pre" and language:
                entity["language"] = language
            if entity["length"] > 0:
                entities.append(entity)
            continue
        language = ""
        boff = _byte_offset(text, i)
        i += width
        if kind == "pre":
            m = re.match(r"([^\s`]+)\n", text[i:])
            if m:
                language = m.group(1)
                i += len(m.group(0))
            elif text.startswith("\n", i):
                i += 1
        stack.append((kind, pos16, boff, language))
    if quote_start is not None and pos16 > quote_start:
        entities.append({"type": "blockquote", "offset": quote_start, "length": pos16 - quote_start})
    if stack:
        kind, _s, boff, _lang = stack[-1]
        raise ParseError(f"Can't find end of {kind.capitalize()} entity at byte offset {boff}")
    return "".join(out), entities


def parse_markdown(text: str) -> tuple[str, list[Entity]]:
    """Legacy Markdown: ``*bold*``, ``_italic_``, ``` `code` ```, ```` ```pre``` ````, ``[text](url)``."""
    out: list[str] = []
    pos16 = 0
    entities: list[Entity] = []
    i = 0
    n = len(text)
    while i < n:
        ch = text[i]
        if ch == "\\" and i + 1 < n and text[i + 1] in "_*`[":
            out.append(text[i + 1])
            pos16 += 1
            i += 2
            continue
        if ch not in "_*`[":
            out.append(ch)
            pos16 += utf16_len(ch)
            i += 1
            continue
        begin_byte = _byte_offset(text, i)
        if ch == "`" and text.startswith("```", i):
            end = text.find("```", i + 3)
            if end < 0:
                raise ParseError(f"Can't find end of the entity starting at byte offset {begin_byte}")
            body = text[i + 3 : end]
            language = ""
            m = re.match(r"([^\s`]+)\n", body)
            if m:
                language = m.group(1)
                body = body[len(m.group(0)) :]
            entity: Entity = {"type": "pre", "offset": pos16, "length": utf16_len(body)}
            if language:
                entity["language"] = language
            out.append(body)
            pos16 += utf16_len(body)
            if entity["length"]:
                entities.append(entity)
            i = end + 3
            continue
        closing = "]" if ch == "[" else ch
        end = text.find(closing, i + 1)
        if end < 0:
            raise ParseError(f"Can't find end of the entity starting at byte offset {begin_byte}")
        body = text[i + 1 : end]
        i = end + 1
        url = ""
        if ch == "[":
            if i < n and text[i] == "(":
                close = text.find(")", i)
                if close < 0:
                    raise ParseError(f"Can't find end of the entity starting at byte offset {begin_byte}")
                url = text[i + 1 : close]
                i = close + 1
        length = utf16_len(body)
        if length:
            kind = {"*": "bold", "_": "italic", "`": "code", "[": "text_link"}[ch]
            if kind != "text_link" or url:
                entity = {"type": kind, "offset": pos16, "length": length}
                if url:
                    entity["url"] = url
                entities.append(entity)
        out.append(body)
        pos16 += length
    return "".join(out), entities


def _trim(text: str, entities: list[Entity]) -> tuple[str, list[Entity]]:
    """Removes leading and trailing white space, as Telegram does, keeping entities in place."""
    stripped_left = text.lstrip()
    lead = utf16_len(text) - utf16_len(stripped_left)
    result = stripped_left.rstrip()
    total = utf16_len(result)
    out: list[Entity] = []
    for entity in entities:
        start = max(0, entity["offset"] - lead)
        end = min(total, entity["offset"] + entity["length"] - lead)
        if end > start:
            out.append({**entity, "offset": start, "length": end - start})
    return result, out


# The Bot API's MessageEntity types (https://core.telegram.org/bots/api#messageentity).
ENTITY_TYPES = frozenset(
    {
        "mention",
        "hashtag",
        "cashtag",
        "bot_command",
        "url",
        "email",
        "phone_number",
        "bold",
        "italic",
        "underline",
        "strikethrough",
        "spoiler",
        "blockquote",
        "expandable_blockquote",
        "code",
        "pre",
        "text_link",
        "text_mention",
        "custom_emoji",
    }
)


def check_entities(raw: Any, text: str) -> list[Entity]:
    """``entities`` / ``caption_entities`` as a bot sends them: a list of MessageEntity objects of
    known types, each within ``text`` (offset and length in UTF-16 code units); a text_link needs
    its ``url``, a text_mention its ``user``."""
    entities = _check_entities(raw)
    size = utf16_len(text)
    for entity in entities:
        kind, offset, length = entity["type"], entity["offset"], entity["length"]
        if kind not in ENTITY_TYPES:
            raise bad_request(f'can\'t parse MessageEntity: unsupported entity type "{kind}"')
        if not all(isinstance(n, int) and not isinstance(n, bool) for n in (offset, length)):
            raise bad_request('can\'t parse MessageEntity: Field "offset" must be of type Integer')
        if offset < 0 or length <= 0 or offset + length > size:
            raise bad_request(
                f"can't parse entities: entity {kind} at offset {offset} is beyond the end of the text"
            )
        if kind == "text_link" and not isinstance(entity.get("url"), str):
            raise bad_request('can\'t parse MessageEntity: Field "url" must be of type String')
        if kind == "text_mention" and not isinstance(entity.get("user"), dict):
            raise bad_request('can\'t parse MessageEntity: Field "user" must be of type Object')
    return entities


def _check_entities(raw: Any) -> list[Entity]:
    if not isinstance(raw, list):
        raise bad_request("can't parse entities JSON object")
    out: list[Entity] = []
    for item in raw:
        if not isinstance(item, dict):
            raise bad_request("can't parse MessageEntity: Object expected as MessageEntity")
        if "type" not in item or "offset" not in item or "length" not in item:
            raise bad_request('can\'t parse MessageEntity: Field "type" must be of type String')
        entity = {
            k: item[k]
            for k in ("type", "offset", "length", "url", "language", "custom_emoji_id")
            if k in item
        }
        if "user" in item:
            entity["user"] = item["user"]
        out.append(entity)
    return out


def format_text(text: str, parse_mode: str, entities_json: str) -> tuple[str, list[Entity]]:
    """Turns the ``text``, ``parse_mode`` and ``entities`` arguments into stored text and entities.

    Raises ApiError with Telegram's descriptions for empty, unparsable or too long text.
    """
    if text == "":
        raise bad_request("message text is empty")
    mode = parse_mode.strip().lower()
    try:
        if mode in ("", "none"):
            entities: list[Entity] = []
            if entities_json:
                try:
                    entities = check_entities(json.loads(entities_json), text)
                except ValueError as exc:
                    raise bad_request("can't parse entities JSON object") from exc
            plain = text
        elif mode == "html":
            plain, entities = parse_html(text)
        elif mode == "markdownv2":
            plain, entities = parse_markdown_v2(text)
        elif mode == "markdown":
            plain, entities = parse_markdown(text)
        else:
            raise bad_request("unsupported parse_mode")
    except ParseError as exc:
        raise ApiError(400, f"Bad Request: can't parse entities: {exc}") from exc
    plain, entities = _trim(plain, entities)
    if not plain:
        raise bad_request(
            "message text is empty" if not entities and mode in ("", "none") else "text must be non-empty"
        )
    if utf16_len(plain) > 4096:
        raise bad_request("message is too long")
    entities.sort(key=lambda e: (e["offset"], -e["length"]))
    return plain, entities


_COMMAND_RE = re.compile(r"(?<![\w/])/[A-Za-z0-9_]{1,64}(?:@[A-Za-z0-9_]{3,32})?")


def incoming_entities(text: str) -> list[Entity]:
    """Entities Telegram attaches to a text a user types: bot commands, mentions, URLs."""
    found: list[tuple[int, int, str]] = []
    for m in _COMMAND_RE.finditer(text):
        found.append((m.start(), m.end(), "bot_command"))
    for m in re.finditer(r"(?<![\w@])@[A-Za-z][A-Za-z0-9_]{3,31}\b", text):
        found.append((m.start(), m.end(), "mention"))
    for m in re.finditer(r"https?://[^\s]+", text):
        found.append((m.start(), m.end(), "url"))
    found.sort()
    out: list[Entity] = []
    for start, end, kind in found:
        out.append({"offset": utf16_len(text[:start]), "length": utf16_len(text[start:end]), "type": kind})
    return out
