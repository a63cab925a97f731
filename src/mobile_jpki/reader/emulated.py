"""Emulated devices in a data directory: each card or phone secure element is one state file.

Layout (under ``DIR``)::

    devices/                      0700
      cards/<id>.state            a My Number Card's JPKI AP (applet state, 0600)
      phones/<id>.state           a phone's secure-element applet
      manufacturer/key.pem        the emulated secure-element manufacturer (attestation root)
      manufacturer/root.pem

Ids are ``[a-z0-9][a-z0-9-]{0,62}`` (a DNS label's alphabet): they become file names, so
anything that could walk the tree (``../x``, ``/``, empty, upper case) is refused before any
path is built.
"""

from __future__ import annotations

import datetime as dt
import os
import re
from enum import StrEnum
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    NoEncryption,
    PrivateFormat,
    load_pem_private_key,
)

from mobile_jpki.applet import JpkiApplet, Manufacturer, new_card, new_secure_element
from mobile_jpki.applet.secrets import DEFAULT_KDF_ITERATIONS
from mobile_jpki.clock import Clock, SystemClock
from mobile_jpki.files import ensure_private_dir
from mobile_jpki.protocol.constants import Profile
from mobile_jpki.reader.errors import ReaderError
from mobile_jpki.reader.statefile import StateFile

_ID_RE = re.compile(r"[a-z0-9][a-z0-9-]{0,62}")


class DeviceKind(StrEnum):
    CARD = "card"
    PHONE = "phone"

    @property
    def directory(self) -> str:
        return "cards" if self is DeviceKind.CARD else "phones"


class DeviceError(ReaderError):
    """A device id or data-directory problem, worded for a person at a terminal."""


class InvalidDeviceId(DeviceError, ValueError):
    pass


class DeviceNotFound(DeviceError):
    def __init__(self, kind: DeviceKind, device_id: str, path: Path) -> None:
        self.kind = kind
        self.device_id = device_id
        self.path = path
        super().__init__(f"no emulated {kind.value} {device_id!r} in {path.parent}")


class DeviceExists(DeviceError):
    pass


def validate_id(device_id: str) -> str:
    if not _ID_RE.fullmatch(device_id):
        raise InvalidDeviceId(
            f"invalid device id {device_id!r}: use 1-63 characters a-z, 0-9 and '-', "
            "starting with a letter or digit"
        )
    return device_id


def device_path(data_dir: Path | str, kind: DeviceKind, device_id: str) -> Path:
    return Path(data_dir) / "devices" / kind.directory / f"{validate_id(device_id)}.state"


def list_devices(data_dir: Path | str, kind: DeviceKind) -> list[str]:
    folder = Path(data_dir) / "devices" / kind.directory
    if not folder.is_dir():
        return []
    return sorted(
        p.stem for p in folder.iterdir() if p.suffix == ".state" and _ID_RE.fullmatch(p.stem)
    )


def _open(data_dir: Path | str, kind: DeviceKind, device_id: str, clock: Clock) -> JpkiApplet:
    path = device_path(data_dir, kind, device_id)
    store = StateFile(path)
    if not store.exists():
        raise DeviceNotFound(kind, device_id, path)
    return JpkiApplet(store, clock=clock)


def open_card(data_dir: Path | str, card_id: str, *, clock: Clock | None = None) -> JpkiApplet:
    """The applet of emulated card ``card_id``; every change is saved to its state file."""
    return _open(data_dir, DeviceKind.CARD, card_id, clock or SystemClock())


def open_phone(data_dir: Path | str, phone_id: str, *, clock: Clock | None = None) -> JpkiApplet:
    """The secure-element applet of emulated phone ``phone_id``."""
    return _open(data_dir, DeviceKind.PHONE, phone_id, clock or SystemClock())


def open_device(
    data_dir: Path | str, kind: DeviceKind, device_id: str, *, clock: Clock | None = None
) -> JpkiApplet:
    return _open(data_dir, kind, device_id, clock or SystemClock())


def _new_store(data_dir: Path | str, kind: DeviceKind, device_id: str) -> StateFile:
    path = device_path(data_dir, kind, device_id)
    ensure_private_dir(path.parent)
    store = StateFile(path)
    if store.exists():
        raise DeviceExists(f"emulated {kind.value} {device_id!r} already exists at {path}")
    return store


def create_card(
    data_dir: Path | str,
    card_id: str,
    *,
    clock: Clock | None = None,
    serial: bytes | None = None,
    kdf_iterations: int = DEFAULT_KDF_ITERATIONS,
) -> JpkiApplet:
    """A blank card (personalisation state) saved as ``devices/cards/<id>.state``."""
    store = _new_store(data_dir, DeviceKind.CARD, card_id)
    return new_card(
        serial or os.urandom(16),
        store,
        clock=clock or SystemClock(),
        kdf_iterations=kdf_iterations,
    )


def remove_card(data_dir: Path | str, card_id: str) -> None:
    """Remove an emulated card's state file (a personalisation that failed); no error if it
    is not there."""
    device_path(data_dir, DeviceKind.CARD, card_id).unlink(missing_ok=True)


def create_phone(
    data_dir: Path | str,
    phone_id: str,
    *,
    manufacturer: Manufacturer | None = None,
    clock: Clock | None = None,
    serial: bytes | None = None,
    profile: Profile = Profile.PHONE_ANDROID,
    kdf_iterations: int = DEFAULT_KDF_ITERATIONS,
) -> JpkiApplet:
    """A blank phone secure element with a factory attestation key certified by
    ``manufacturer`` (default: the data directory's, see :func:`load_or_create_manufacturer`)."""
    clock = clock or SystemClock()
    store = _new_store(data_dir, DeviceKind.PHONE, phone_id)
    maker = manufacturer or load_or_create_manufacturer(data_dir, now=clock.now())
    serial = serial or os.urandom(16)
    element_key = ec.generate_private_key(ec.SECP256R1())
    cert = maker.attest(element_key=element_key.public_key(), serial=serial, now=clock.now())
    return new_secure_element(
        serial, store, element_key, cert, clock=clock, profile=profile,
        kdf_iterations=kdf_iterations,
    )  # fmt: skip


def load_or_create_manufacturer(data_dir: Path | str, *, now: dt.datetime) -> Manufacturer:
    """The emulated secure-element manufacturer of this data directory (made on first use).

    The portal service verifies key attestations against ``devices/manufacturer/root.pem``.
    """
    folder = Path(data_dir) / "devices" / "manufacturer"
    key_path, root_path = folder / "key.pem", folder / "root.pem"
    if key_path.exists() and root_path.exists():
        key = load_pem_private_key(key_path.read_bytes(), None)
        if not isinstance(key, ec.EllipticCurvePrivateKey):
            raise DeviceError(f"{key_path} is not an EC key")
        root = x509.load_pem_x509_certificate(root_path.read_bytes())
        return Manufacturer(_manufacturer_name(root), key, root)
    ensure_private_dir(folder)
    maker = Manufacturer.create(key=ec.generate_private_key(ec.SECP256R1()), now=now)
    pem = maker.key.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption())
    StateFile(key_path).save(pem)
    StateFile(root_path).save(maker.root.public_bytes(Encoding.PEM))
    return maker


def _manufacturer_name(root: x509.Certificate) -> str:
    orgs = root.subject.get_attributes_for_oid(x509.oid.NameOID.ORGANIZATION_NAME)
    value = orgs[0].value if orgs else "mobile-jpki test secure element manufacturer"
    return value if isinstance(value, str) else value.decode()
