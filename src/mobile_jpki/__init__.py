"""mobile-jpki: Japan's smartphone JPKI certificate service, runnable end to end.

Package map (imports point down only; see docs/architecture.md):

- ``applet``  — the JPKI applet of the My Number Card and of the phone's secure element,
  pure ISO 7816-4 APDU state machines.
- ``reader``  — host side: connections (in-process, PC/SC, vpcd bridge), typed commands,
  a ``cryptography`` private key that signs through the applet.
- ``pki``     — certificate profiles, identity (basic four facts), issuance, CRL, OCSP. Pure.
- ``keys``    — CA keys: encrypted PKCS#8 files and PKCS#11 HSMs.
"""

from __future__ import annotations

__version__ = "0.1.0"
