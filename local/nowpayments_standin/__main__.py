"""``python -m local.nowpayments_standin --host 127.0.0.1 --port PORT --api-key KEY --ipn-secret SECRET``."""

from __future__ import annotations

import argparse

from local.background_server import serve
from local.nowpayments_standin.app import create_app


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m local.nowpayments_standin", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8082)
    parser.add_argument("--api-key", required=True)
    parser.add_argument("--ipn-secret", required=True)
    parser.add_argument("--email", default="merchant@example.com", help="for POST /v1/auth")
    parser.add_argument("--password", default="password", help="for POST /v1/auth")
    parser.add_argument("--totp-secret", default=None, help="base32 secret for payout verification codes")
    parser.add_argument(
        "--public-base-url", default=None, help="base of invoice_url (default: the stand-in's own URL)"
    )
    parser.add_argument("--ipn-timeout", type=float, default=10.0, help="seconds to wait for an IPN answer")
    parser.add_argument("--token-ttl", type=float, default=300.0, help="lifetime of /v1/auth tokens, seconds")
    parser.add_argument(
        "--payout-auto-finish-seconds",
        type=float,
        default=None,
        help="verified payouts become FINISHED this long after verification (default: only via /_control)",
    )
    parser.add_argument("--log-level", default="info")
    args = parser.parse_args(argv)
    app = create_app(
        args.api_key,
        args.ipn_secret,
        email=args.email,
        password=args.password,
        totp_secret=args.totp_secret,
        public_base_url=args.public_base_url,
        ipn_timeout=args.ipn_timeout,
        token_ttl=args.token_ttl,
        payout_auto_finish_seconds=args.payout_auto_finish_seconds,
    )
    if args.totp_secret is None:
        print(f"nowpayments stand-in: generated TOTP secret {app.state.standin.totp_secret}", flush=True)
    serve(app, host=args.host, port=args.port, log_level=args.log_level)


if __name__ == "__main__":
    main()
