"""Making signatures with any ``cryptography`` private key (software, PKCS#11, or a card or
phone key that signs through APDUs): CMS SignedData, PAdES PDF signatures, login assertions."""
