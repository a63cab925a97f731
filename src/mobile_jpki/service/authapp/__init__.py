"""A local twin of the Digital Agency's authentication and signing service (デジタル認証アプリ):
OpenID Connect / OAuth 2.0 for relying parties, backed by the emulated cards and phones
(issue 18; docs/auth-app.md). Use cases here; HTTP in :mod:`mobile_jpki.api.authapp`;
tables in :mod:`mobile_jpki.store.authapp`."""
