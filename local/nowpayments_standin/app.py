"""The NowPayments stand-in as a Starlette app: the public API, the control API and the IPN sender.

Modules: ``model.py`` (state and rules), ``validation.py`` (Joi-like messages), ``ipn.py`` (signing
and delivery), ``api.py`` (``/v1``, invoice page), ``control.py`` (``/_control``). See ``README.md``.
"""

from __future__ import annotations

from typing import TypedDict, Unpack

from starlette.applications import Starlette

from local.nowpayments_standin.api import PublicApi
from local.nowpayments_standin.control import Control, control_routes
from local.nowpayments_standin.ipn import IpnSender
from local.nowpayments_standin.model import NowPaymentsStandin

__all__ = ["create_app"]


class Options(TypedDict, total=False):
    """``create_app``'s keywords, passed on to :class:`NowPaymentsStandin` (defaults there)."""

    email: str
    password: str
    totp_secret: str | None
    public_base_url: str | None
    ipn_timeout: float
    token_ttl: float
    payout_auto_finish_seconds: float | None


def create_app(api_key: str, ipn_secret: str, **options: Unpack[Options]) -> Starlette:
    """The stand-in as a Starlette app; the state is ``app.state.standin``."""
    standin = NowPaymentsStandin(api_key, ipn_secret, **options)
    sender = IpnSender(standin)
    routes = PublicApi(standin).routes() + control_routes(Control(standin, sender))
    app = Starlette(routes=routes, lifespan=lambda app: sender.running())
    app.state.standin = standin
    return app
