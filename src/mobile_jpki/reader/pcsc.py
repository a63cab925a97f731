"""Real PC/SC readers (pcsc-lite's pcscd on Linux/macOS, WinSCard on Windows) through pyscard.

The same :class:`~mobile_jpki.reader.commands.JpkiClient` runs over this as over the in-process
emulator: a real My Number Card in a contact or NFC reader, or our emulated card attached to
``vsmartcard-vpcd`` (see :mod:`mobile_jpki.reader.vpcd` and docs/pcsc.md).

pyscard is an optional dependency (``mobile-jpki[pcsc]``): it is imported lazily so the rest of
the package works without libpcsclite.
"""

from __future__ import annotations

import contextlib
from typing import Any

from mobile_jpki.reader.errors import NoCard, NoReader, TransportError

_NOT_RUNNING = (
    "cannot reach the PC/SC service: is pcscd running? "
    "(Debian: `apt install pcscd` then `systemctl start pcscd.socket`)"
)


def _smartcard() -> Any:
    try:
        import smartcard.System
    except ImportError as exc:  # pragma: no cover - depends on the installation
        raise TransportError(
            "pyscard is not installed: pip install 'mobile-jpki[pcsc]' (needs libpcsclite)"
        ) from exc
    return smartcard


def list_readers() -> list[str]:
    """Names of the PC/SC readers pcscd knows, in its order."""
    sc = _smartcard()
    from smartcard.pcsc.PCSCExceptions import EstablishContextException, ListReadersException

    try:
        return [str(r) for r in sc.System.readers()]
    except EstablishContextException as exc:
        raise TransportError(_NOT_RUNNING) from exc
    except ListReadersException:
        # pcsc-lite answers SCARD_E_NO_READERS_AVAILABLE as an error, not an empty list.
        return []


class PcscConnection:
    """A card in a PC/SC reader, spoken to with T=1 (or T=0, whichever the card offers).

    ``reader_name`` picks a reader by exact name or unique substring; ``None`` takes the first
    reader that holds a card.
    """

    def __init__(self, reader_name: str | None = None) -> None:
        _smartcard()
        from smartcard.CardConnection import CardConnection as ScCardConnection
        from smartcard.Exceptions import CardConnectionException, NoCardException
        from smartcard.System import readers

        self._protocols = ScCardConnection.T0_protocol | ScCardConnection.T1_protocol
        self._errors: tuple[type[Exception], ...] = (CardConnectionException, NoCardException)
        names = list_readers()
        if not names:
            raise NoReader("no PC/SC reader found: plug in a reader (or start vpcd + pcscd)")
        candidates = [r for r in readers() if reader_name is None or reader_name in str(r)]
        exact = [r for r in candidates if str(r) == reader_name]
        if exact:
            candidates = exact
        if not candidates:
            raise NoReader(f"no PC/SC reader named {reader_name!r}; readers: {', '.join(names)}")
        if reader_name is not None and len(candidates) > 1:
            raise NoReader(f"reader name {reader_name!r} is ambiguous: {', '.join(names)}")
        last: Exception | None = None
        for reader in candidates:
            conn = reader.createConnection()
            try:
                conn.connect(self._protocols)
            except self._errors as exc:
                last = exc
                _release(conn)
                continue
            self._conn = conn
            self.reader_name = str(reader)
            return
        where = f"reader {reader_name!r}" if reader_name else "any reader"
        raise NoCard(f"no card in {where} ({last})")

    def transmit(self, apdu: bytes) -> tuple[bytes, int]:
        try:
            data, sw1, sw2 = self._conn.transmit(list(apdu))
        except self._errors as exc:
            raise TransportError(f"{self.reader_name}: {exc}") from exc
        return bytes(data), (sw1 << 8) | sw2

    def atr(self) -> bytes:
        return bytes(self._conn.getATR())

    def reconnect(self) -> None:
        """Cold reset through PC/SC (SCardReconnect with SCARD_UNPOWER_CARD)."""
        try:
            self._conn.reconnect(self._protocols, disposition=_unpower())
        except self._errors as exc:
            raise TransportError(f"{self.reader_name}: {exc}") from exc

    def close(self) -> None:
        with contextlib.suppress(*self._errors):
            self._conn.disconnect()
        _release(self._conn)

    def __enter__(self) -> PcscConnection:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _release(conn: Any) -> None:
    """Release the PC/SC context now: pyscard would otherwise do it in ``__del__``, which raises
    (unraisably) once pcscd is gone."""
    release = getattr(conn, "release", None)
    if release is not None:
        with contextlib.suppress(Exception):
            release()
    # Make a later __del__ a no-op whatever the pyscard version does there.
    with contextlib.suppress(Exception):
        conn.hcontext = None


def _unpower() -> int:
    from smartcard.scard import SCARD_UNPOWER_CARD

    return int(SCARD_UNPOWER_CARD)
