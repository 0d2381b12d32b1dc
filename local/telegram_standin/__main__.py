"""Command line: ``python -m local.telegram_standin --port 8081 --bot-token T --bot-username N``."""

from __future__ import annotations

import argparse

from local.background_server import serve

from .app import create_app


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m local.telegram_standin", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8081)
    parser.add_argument("--bot-token", required=True)
    parser.add_argument("--bot-username", required=True)
    parser.add_argument(
        "--bot-id", type=int, default=None, help="default: the number before the token's colon"
    )
    parser.add_argument("--bot-name", default="", help="the bot's first_name (default: its username)")
    parser.add_argument("--no-rate-limits", action="store_true", help="turn flood limits off")
    parser.add_argument("--webhook-retry-base", type=float, default=1.0, help="first retry delay, seconds")
    parser.add_argument("--webhook-retry-max", type=float, default=60.0, help="longest retry delay, seconds")
    parser.add_argument("--webhook-timeout", type=float, default=30.0, help="webhook answer timeout, seconds")
    parser.add_argument("--callback-answer-timeout", type=float, default=15.0)
    parser.add_argument(
        "--pre-checkout-timeout",
        type=float,
        default=10.0,
        help="how long a payment waits for the bot's answer",
    )
    parser.add_argument(
        "--strict-webhook-urls",
        action="store_true",
        help="accept only HTTPS webhooks on ports 443/80/88/8443",
    )
    parser.add_argument("--log-level", default="info")
    ns = parser.parse_args(argv)
    app = create_app(
        ns.bot_token,
        ns.bot_username,
        rate_limits=not ns.no_rate_limits,
        bot_id=ns.bot_id,
        bot_first_name=ns.bot_name,
        webhook_retry_base=ns.webhook_retry_base,
        webhook_retry_max=ns.webhook_retry_max,
        webhook_timeout=ns.webhook_timeout,
        callback_answer_timeout=ns.callback_answer_timeout,
        strict_webhook_urls=ns.strict_webhook_urls,
        pre_checkout_timeout=ns.pre_checkout_timeout,
    )
    serve(app, host=ns.host, port=ns.port, log_level=ns.log_level)


if __name__ == "__main__":
    main()
