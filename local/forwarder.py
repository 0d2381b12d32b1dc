"""A real bot from a laptop: long-polls getUpdates on the Bot API and forwards each update to the
local telegram_webhook with the secret header, as Telegram's webhook delivery would. An update
the webhook answers non-2xx is retried (it holds back the ones after it, like Telegram)."""

from __future__ import annotations

import argparse
import json
import os
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx

from shared_schemas.telegram import ALLOWED_UPDATES


def forward_forever(
    stop: threading.Event, api_base: str, token: str, webhook: str, secret: str, poll_seconds: int = 50
) -> None:
    api = f"{api_base.rstrip('/')}/bot{token}"
    offset = 0
    with httpx.Client(timeout=poll_seconds + 20) as http:
        # getUpdates refuses to work while a webhook is set.
        http.post(f"{api}/deleteWebhook", json={"drop_pending_updates": False})
        while not stop.is_set():
            try:
                answer = http.post(
                    f"{api}/getUpdates",
                    json={
                        "offset": offset,
                        "timeout": poll_seconds,
                        "allowed_updates": list(ALLOWED_UPDATES),
                    },
                ).json()
            except (httpx.HTTPError, ValueError) as error:
                print(
                    json.dumps(
                        {"severity": "WARNING", "message": f"getUpdates failed: {type(error).__name__}"}
                    )
                )
                time.sleep(3)
                continue
            for update in answer.get("result", []):
                delay = 1.0
                while not stop.is_set():
                    try:
                        status = http.post(
                            webhook, json=update, headers={"X-Telegram-Bot-Api-Secret-Token": secret}
                        ).status_code
                    except httpx.HTTPError:
                        status = 599
                    if status < 300:
                        break
                    time.sleep(delay)
                    delay = min(delay * 2, 60)
                offset = update["update_id"] + 1


class _Health(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.send_response(200)
        self.end_headers()
        self.wfile.write(b'{"ok": true}')

    def log_message(self, *_: object) -> None:
        pass


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    stop = threading.Event()
    env = os.environ
    threading.Thread(
        target=forward_forever,
        args=(stop, env["TELEGRAM_API_BASE_URL"], env["TELEGRAM_BOT_TOKEN"], env["WEBHOOK_URL"]),
        kwargs={"secret": env["TELEGRAM_WEBHOOK_SECRET"]},
        daemon=True,
    ).start()
    ThreadingHTTPServer(("127.0.0.1", args.port), _Health).serve_forever()


if __name__ == "__main__":
    main()
