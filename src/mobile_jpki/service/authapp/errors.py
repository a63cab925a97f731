"""The twin's refusals, shaped as OAuth 2.0 / OIDC errors (RFC 6749 §4.1.2.1, §5.2; RFC 6750
§3.1; OIDC Core §3.1.2.6). ``api.authapp`` renders them: a redirect with ``error=`` where the
spec says so (:class:`RedirectError`), JSON otherwise."""

from __future__ import annotations


class OAuthError(Exception):
    """``error`` is the registered code (``invalid_request``, ``invalid_client``, ...);
    ``status`` the HTTP status when it is answered as JSON."""

    def __init__(self, error: str, description: str, *, status: int = 400) -> None:
        super().__init__(f"{error}: {description}")
        self.error = error
        self.description = description
        self.status = status

    def to_json(self) -> dict[str, str]:
        return {"error": self.error, "error_description": self.description}


class RedirectError(OAuthError):
    """An authorization-request error once the client and its redirect URI are known good:
    the answer goes back to the RP's redirect URI (RFC 6749 §4.1.2.1)."""

    def __init__(
        self, error: str, description: str, *, redirect_uri: str, state: str | None
    ) -> None:
        super().__init__(error, description)
        self.redirect_uri = redirect_uri
        self.state = state


class ApprovalError(OAuthError):
    """The app's answer failed a check (signature, chain, status, person): the request ends
    denied and the RP is told ``access_denied``; ``redirect_uri`` is where to send the
    browser, with the error."""

    def __init__(self, description: str, *, redirect_uri: str | None) -> None:
        super().__init__("access_denied", description, status=403)
        self.redirect_uri = redirect_uri


class UnknownItem(OAuthError):
    def __init__(self, what: str) -> None:
        super().__init__("not_found", f"no such {what}", status=404)


class Finished(OAuthError):
    def __init__(self) -> None:
        super().__init__("request_finished", "this request was already answered", status=409)


class Expired(OAuthError):
    def __init__(self, what: str) -> None:
        super().__init__("expired", f"the {what} has expired", status=410)
