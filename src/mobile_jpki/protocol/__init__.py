"""What the applet, the reader, the phone and the portal say to each other, defined once.

- :mod:`.tlv`: BER-TLV and DER definite lengths (the one length encoder; ``pki`` uses it too)
- :mod:`.apdu`: command and response APDUs, instructions, status words (ISO 7816-4)
- :mod:`.constants`: AIDs, ATR, elementary files, key slots, token labels of the JPKI AP
- :mod:`.attestation`: the key attestation of the phone secure element, made and checked
- :mod:`.instructions`: signed management instructions, built, encoded and parsed
- :mod:`.documents`: the signed JSON documents the phone sends the portal

Pure (docs/architecture.md): no I/O, nothing from ``service``, ``phone``, ``reader``,
``applet``, ``store`` or ``api``; keys, time and randomness are handed in. The emulator's state
machine stays in ``applet``; the host's transport and error hierarchy stay in ``reader``.
"""
