"""The portal's tunables (docs/portal.md "Configuration"); the *uncertain* ones follow
JPKI-FACTS.md."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass


@dataclass(frozen=True)
class PortalConfig:
    """Tunables; the *uncertain* ones are documented in docs/portal.md."""

    terms_version: str = "2025-06"
    # The seed: "48時間以内に別端末をネットワークに接続すれば、端末から証明書が削除されます".
    deletion_window: dt.timedelta = dt.timedelta(hours=48)
    nonce_validity: dt.timedelta = dt.timedelta(minutes=10)
    # How far a document's signed_at may be from the service's clock.
    signing_skew: dt.timedelta = dt.timedelta(minutes=10)
    applications_per_card: int = 10
    application_window: dt.timedelta = dt.timedelta(days=1)
    # At most this many unused, unexpired nonces per device: a new one beyond it drops the
    # device's oldest (docs/portal.md "Abuse limits").
    nonces_per_device: int = 8
    # Wrong device secrets counted per (client network, device), not per device: a stranger
    # who knows a device id locks out only themselves (docs/portal.md "Abuse limits").
    credential_failures: int = 10
    credential_window: dt.timedelta = dt.timedelta(minutes=15)
    # How many (client, device) failure counters one process remembers (LRU).
    credential_counters: int = 10_000
    reset_validity: dt.timedelta = dt.timedelta(minutes=10)
    job_attempts: int = 5
    # Issuance jobs committed together (group commit). None: SQLITE_JOBS_PER_TRANSACTION on
    # SQLite, where the one writer serialises everything anyway and each commit is an fsync;
    # 1 on PostgreSQL, where a batch would hold its CRL-shard rows and the audit chain head
    # until its commit, making every concurrent revocation wait (and two batches could
    # deadlock on shards locked in different orders).
    jobs_per_transaction: int | None = None
    # *Uncertain* (JPKI-FACTS.md): does 異動 revoke the phone's signing certificate? Default yes.
    move_revokes_phone_signing: bool = True
    # The seed's hotline line is 「マイナンバーカードの一時利用停止」: the hold covers the card's
    # certificates as well as the phones' (docs/lifecycle.md). False holds the phones only.
    hotline_holds_card: bool = True
    # *Uncertain* (JPKI-FACTS gives no card rule): the app's release, signed with the card
    # and its signing password, also lifts the card's own hold. False: only the municipal
    # office lifts it (`office release`), and the app's release needs a card that is good.
    app_release_lifts_card_hold: bool = True


#: Jobs per transaction on SQLite. Each batch is one commit (an fsync), one claim, one audit
#: append, and one wait for the signatures still being made at its end; 32 instead of 8
#: lowered the CPU per model change by ~10 % (benchmarks/model_change.py, alternating runs,
#: docs/portal.md "Figures"). The price: a backlog's batch holds SQLite's write lock for
#: ~200-250 ms here (32 jobs of 6-8 ms), which an application or a revocation arriving then
#: waits out (readers, OCSP among them, do not wait: WAL).
SQLITE_JOBS_PER_TRANSACTION = 32
