"""The secure elements' attestation certificates, parsed and chain-checked once per DER.

Every application checks the applying device's factory attestation certificate (stored at
enrolment): it must chain to a configured manufacturer root, be valid now and name the
device's element, and then it verifies each key's attestation (docs/portal.md, "The
application document"). A device's certificate does not change, yet parsing it and verifying
the root's ECDSA signature on it cost ≈0.25 ms each time, three times per application. So
both are remembered per DER bytes — a re-enrolled or changed device brings other bytes and is
checked afresh — while what can change is checked on every use: that the root is still
configured (a root removed from the configuration is refused at once), the validity at
``now`` and the element serial. Enrolment checks the certificate through the same cache, so a
device's first application finds it chained already.
"""

from __future__ import annotations

import datetime as dt
import threading
from collections import OrderedDict
from collections.abc import Sequence

from cryptography import x509
from cryptography.exceptions import InvalidSignature

from mobile_jpki.protocol.attestation import AttestationError, check_attestation_certificate


class AttestationCertificates:
    """``check`` an element's attestation certificate; at most ``size`` remembered (LRU)."""

    def __init__(self, size: int = 10_000) -> None:
        self._size = size
        self._lock = threading.Lock()  # uvicorn's thread pool runs applications side by side
        # DER -> (the parsed certificate, the root whose signature on it verified)
        self._checked: OrderedDict[bytes, tuple[x509.Certificate, x509.Certificate]] = OrderedDict()

    def check(
        self,
        der: bytes,
        roots: Sequence[x509.Certificate],
        *,
        now: dt.datetime,
        expected_serial: bytes | None = None,
    ) -> x509.Certificate:
        """The parsed certificate if it chains to one of ``roots`` (the configuration now),
        is valid at ``now`` and names ``expected_serial``; else :class:`AttestationError`."""
        with self._lock:
            known = self._checked.get(der)
            if known is not None:
                self._checked.move_to_end(der)
        if known is not None and known[1] in roots:
            certificate = known[0]
        else:
            certificate = self._chain(der, roots)
        check_attestation_certificate(certificate, now=now, expected_serial=expected_serial)
        return certificate

    def _chain(self, der: bytes, roots: Sequence[x509.Certificate]) -> x509.Certificate:
        try:
            certificate = x509.load_der_x509_certificate(der)
        except ValueError:
            raise AttestationError("the attestation certificate is not DER X.509") from None
        for root in roots:
            try:
                certificate.verify_directly_issued_by(root)
            except (ValueError, TypeError, InvalidSignature):
                continue
            with self._lock:
                self._checked[der] = (certificate, root)
                self._checked.move_to_end(der)
                while len(self._checked) > self._size:
                    self._checked.popitem(last=False)
            return certificate
        with self._lock:
            self._checked.pop(der, None)
        raise AttestationError("the attestation certificate does not chain to a known manufacturer")
