from __future__ import annotations

import io
import json
import logging

from telepay.core import logs


def test_one_json_object_per_line_with_ids_and_no_secrets() -> None:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logs.JsonFormatter())
    logger = logging.getLogger("test.logs")
    logger.addHandler(handler)
    logger.propagate = False
    logs.redact("super-secret-ipn-key")
    try:
        logger.warning(
            "calling https://api.telegram.org/bot123456:AAH-token_x/sendMessage with super-secret-ipn-key",
            extra={"order_id": "tp1-sub-x", "update_id": 7},
        )
        logger.error("boom", exc_info=ValueError("super-secret-ipn-key in an exception"))
    finally:
        logger.removeHandler(handler)
    lines = stream.getvalue().splitlines()
    assert len(lines) == 2
    first, second = (json.loads(line) for line in lines)
    assert first["severity"] == "WARNING" and first["order_id"] == "tp1-sub-x" and first["update_id"] == 7
    assert "super-secret" not in stream.getvalue() and "AAH-token" not in stream.getvalue()
    assert "/bot[redacted]/sendMessage" in first["message"]
    assert second["severity"] == "ERROR" and "exception" in second
