"""``mobile-jpki phone``: the Mynaportal app's flows on an emulated phone, and its secure element.

Each flow command is one launch of the app (seed ①-⑬ and the lifecycle around them): it loads
the app's profile (:mod:`mobile_jpki.phone.profile`), opens the phone's secure element and, for
card-signed steps, the emulated My Number Card from ``--data-dir``, talks to the service
in-process or over HTTP (``--base-url``), and saves the profile again. The steps themselves are
library code (:class:`~mobile_jpki.phone.steps.ScriptedPhone`,
:class:`~mobile_jpki.phone.app.portal_backend.PortalBackend`); this package parses and renders:

- :mod:`.session`: one launch of the app (:func:`launch`), the shared options and renderings;
- :mod:`.apply`: ``new``, ``apply``, ``model-change``, ``register``;
- :mod:`.lifecycle`: ``sync``, ``revoke``, ``revoke-other``, ``reset-password``, ``release``,
  ``push``, ``status``;
- :mod:`.use`: the secure element itself: ``vpcd``, ``list``, ``info``, ``read-cert``,
  ``sign-pdf``, ``sign-cms``;
- :mod:`.authorize`: ``authorize``, the デジタル認証アプリ's side of a relying party's login or
  signature (issue 18).

Exit codes as ``mobile-jpki card`` (see :mod:`mobile_jpki.cli.card` and docs/cli.md).
"""

from __future__ import annotations

from collections.abc import Callable

import typer

from mobile_jpki.cli.phone import apply, authorize, lifecycle, use
from mobile_jpki.cli.phone.session import launch

app = typer.Typer(
    help="The Mynaportal app on an emulated phone (スマホ用電子証明書: apply, 機種変更, register, "
    "revoke, reset, sign) and its secure element (vpcd, info, read-cert). Start with "
    "`phone new`, or use the demo's `old-phone` / `new-phone`.",
    no_args_is_help=True,
)

# Registered here, not with decorators in each module: `phone --help` lists the commands in
# registration order, and this order (the element first, then the app's flows as a person
# meets them) does not follow the modules.
_COMMANDS: tuple[tuple[str, Callable[..., None]], ...] = (
    ("vpcd", use.vpcd),
    ("list", use.list_phones),
    ("info", use.info),
    ("read-cert", use.read_cert),
    ("new", apply.new),
    ("apply", apply.apply),
    ("model-change", apply.model_change),
    ("register", apply.register),
    ("sync", lifecycle.sync),
    ("revoke", lifecycle.revoke),
    ("revoke-other", lifecycle.revoke_other),
    ("reset-password", lifecycle.reset_password),
    ("release", lifecycle.release),
    ("push", lifecycle.push),
    ("status", lifecycle.status),
    ("sign-pdf", use.sign_pdf_cmd),
    ("sign-cms", use.sign_cms_cmd),
    ("authorize", authorize.authorize),
)
for _name, _command in _COMMANDS:
    app.command(_name)(_command)

__all__ = ["app", "launch"]
