"""The phone side: an HTTP client of the portal and the Mynaportal app's scripted steps that
drive the card and the secure element through ``mobile_jpki.reader`` (APDUs only)."""
