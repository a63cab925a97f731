"""Making applets: a blank My Number Card's JPKI AP, or a phone's secure-element applet.

The state starts in personalisation; the issuer (card) or the portal service (phone) then
generates keys, writes certificates and secrets and ACTIVATEs it, all through APDUs.
"""

from __future__ import annotations

import os
from dataclasses import replace

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat

from mobile_jpki.clock import Clock
from mobile_jpki.protocol.constants import SERIAL_LENGTH, Profile

from .jpki import JpkiApplet, KeyFactory, RandomSource, generate_rsa_key
from .secrets import DEFAULT_KDF_ITERATIONS, SecretPolicy
from .state import AppletState, StateStore

SALT_LENGTH = 16


def _blank(
    serial: bytes,
    store: StateStore,
    profile: Profile,
    *,
    random: RandomSource,
    policy: SecretPolicy | None,
    kdf_iterations: int,
) -> AppletState:
    if len(serial) != SERIAL_LENGTH:
        raise ValueError("an applet serial is 16 bytes")
    if store.load() is not None:
        raise ValueError("the store already holds an applet: refusing to overwrite it")
    if kdf_iterations < 1:
        raise ValueError("kdf_iterations must be positive")
    return AppletState(
        serial=bytes(serial),
        profile=profile,
        salt=random(SALT_LENGTH),
        policy=policy or SecretPolicy.for_profile(profile),
        kdf_iterations=kdf_iterations,
    )


def new_card(
    serial: bytes,
    store: StateStore,
    *,
    clock: Clock,
    random: RandomSource = os.urandom,
    policy: SecretPolicy | None = None,
    kdf_iterations: int = DEFAULT_KDF_ITERATIONS,
    key_factory: KeyFactory = generate_rsa_key,
) -> JpkiApplet:
    """A blank card JPKI AP (token ``JPKIAPICCTOKEN2``) saved into ``store``."""
    state = _blank(
        serial, store, Profile.CARD, random=random, policy=policy, kdf_iterations=kdf_iterations
    )
    store.save(state.to_bytes())
    return JpkiApplet(store, clock=clock, random=random, key_factory=key_factory)


def new_secure_element(
    serial: bytes,
    store: StateStore,
    attestation_key: ec.EllipticCurvePrivateKey,
    attestation_cert: x509.Certificate,
    *,
    clock: Clock,
    profile: Profile = Profile.PHONE_ANDROID,
    random: RandomSource = os.urandom,
    policy: SecretPolicy | None = None,
    kdf_iterations: int = DEFAULT_KDF_ITERATIONS,
    key_factory: KeyFactory = generate_rsa_key,
) -> JpkiApplet:
    """A blank phone secure-element applet holding its factory attestation key and certificate
    (make them with :meth:`Manufacturer.attest`)."""
    if not profile.is_phone:
        raise ValueError("a secure element has a phone profile")
    if attestation_cert.public_key() != attestation_key.public_key():
        raise ValueError("the attestation certificate is for another key")
    state = _blank(
        serial, store, profile, random=random, policy=policy, kdf_iterations=kdf_iterations
    )
    state = replace(
        state,
        attestation_key=attestation_key.private_bytes(
            Encoding.DER, PrivateFormat.PKCS8, NoEncryption()
        ),
        attestation_certificate=attestation_cert.public_bytes(Encoding.DER),
    )
    store.save(state.to_bytes())
    return JpkiApplet(store, clock=clock, random=random, key_factory=key_factory)
