"""The relying-party kit: verify what JPKI cards and phones sign, authenticate their holders and
check revocation (OCSP, CRL) over HTTP only, through an injected fetcher — never the CA's
database."""
