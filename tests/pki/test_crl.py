"""CRL semantics: scopes (shard IDP, delta indicator, ARL), entry rules, errors, round trips."""

from __future__ import annotations

import datetime as dt
import zoneinfo
from collections.abc import Iterator

import pytest
from asn1crypto import core as asn1_core
from asn1crypto import crl as asn1_crl
from crl_fixtures import URLS, make_ca, make_profile_ca
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from hypothesis import given, settings
from hypothesis import strategies as st

from mobile_jpki.pki import profiles
from mobile_jpki.pki.crl import (
    CrlError,
    CrlKind,
    CrlScope,
    InvalidCrlNumber,
    InvalidEntry,
    InvalidValidity,
    UnsupportedIssuerKey,
    build_crl,
)
from mobile_jpki.pki.model import CaIdentity
from mobile_jpki.pki.revocation import Reason, RevokedEntry

UTC = dt.UTC
T0 = dt.datetime(2026, 4, 1, 9, 0, tzinfo=UTC)
T1 = T0 + dt.timedelta(days=1)


def crl(
    entries: list[RevokedEntry] | Iterator[RevokedEntry],
    scope: CrlScope,
    *,
    crl_number: int = 12,
    issuer: CaIdentity | None = None,
    this_update: dt.datetime = T0,
    next_update: dt.datetime = T1,
) -> bytes:
    return build_crl(
        issuer=issuer or make_ca(),
        urls=URLS,
        entries=entries,
        crl_number=crl_number,
        this_update=this_update,
        next_update=next_update,
        scope=scope,
    )


def load(der: bytes) -> x509.CertificateRevocationList:
    parsed = x509.load_der_x509_crl(der)
    public_key = make_ca().certificate.public_key()
    assert isinstance(public_key, rsa.RSAPublicKey)
    assert parsed.is_signature_valid(public_key)
    return parsed


# --- scopes -------------------------------------------------------------------------------------


def test_full_shard_crl_has_idp_naming_the_shard_and_freshest_crl() -> None:
    parsed = load(crl([RevokedEntry(5, T0)], CrlScope.full(17)))
    assert parsed.extensions.get_extension_for_class(x509.CRLNumber).value.crl_number == 12
    idp = parsed.extensions.get_extension_for_class(x509.IssuingDistributionPoint)
    assert idp.critical  # RFC 5280 §5.2.5
    assert idp.value.full_name == [x509.UniformResourceIdentifier(URLS.crl("sign-2023", 17))]
    assert idp.value.only_contains_user_certs
    assert not idp.value.only_contains_ca_certs
    freshest = parsed.extensions.get_extension_for_class(x509.FreshestCRL)
    assert not freshest.critical  # RFC 5280 §5.2.6
    assert freshest.value[0].full_name == [
        x509.UniformResourceIdentifier(URLS.delta_crl("sign-2023", 17))
    ]
    with pytest.raises(x509.ExtensionNotFound):
        parsed.extensions.get_extension_for_class(x509.DeltaCRLIndicator)


def test_idp_matches_the_certificate_cdp_of_the_same_shard() -> None:
    # RFC 5280 §6.3.3 (b)(2)(i): the CRL's IDP names must match the certificate's CDP.
    parsed = load(crl([], CrlScope.full(4)))
    idp = parsed.extensions.get_extension_for_class(x509.IssuingDistributionPoint).value
    cdp = profiles.crl_distribution_points(URLS, "sign-2023", 4).value
    assert isinstance(cdp, x509.CRLDistributionPoints)
    assert idp.full_name == cdp[0].full_name


def test_delta_crl_names_its_base_and_keeps_the_base_scope() -> None:
    base = load(crl([], CrlScope.full(3), crl_number=40))
    delta = load(
        crl(
            [
                RevokedEntry(0x31, T0, Reason.REMOVE_FROM_CRL),
                RevokedEntry(0x32, T0, Reason.AFFILIATION_CHANGED),
            ],
            CrlScope.delta(3, 40),
            crl_number=41,
        )
    )
    indicator = delta.extensions.get_extension_for_class(x509.DeltaCRLIndicator)
    assert indicator.critical  # RFC 5280 §5.2.4
    assert indicator.value.crl_number == 40
    assert delta.extensions.get_extension_for_class(x509.CRLNumber).value.crl_number == 41
    # Same scope as the base (RFC 5280 §5.2.4): identical IDP, i.e. the FULL CRL's URL.
    base_idp = base.extensions.get_extension_for_class(x509.IssuingDistributionPoint)
    delta_idp = delta.extensions.get_extension_for_class(x509.IssuingDistributionPoint)
    assert delta_idp == base_idp
    # RFC 5280 §5.2.6: freshestCRL MUST NOT appear in delta CRLs.
    with pytest.raises(x509.ExtensionNotFound):
        delta.extensions.get_extension_for_class(x509.FreshestCRL)
    released = delta.get_revoked_certificate_by_serial_number(0x31)
    assert released is not None
    reason = released.extensions.get_extension_for_class(x509.CRLReason).value.reason
    assert reason is x509.ReasonFlags.remove_from_crl


def test_arl_covers_ca_certificates_at_the_root_url() -> None:
    parsed = load(crl([RevokedEntry(2019, T0, Reason.SUPERSEDED)], CrlScope.arl()))
    idp = parsed.extensions.get_extension_for_class(x509.IssuingDistributionPoint).value
    assert idp.only_contains_ca_certs
    assert not idp.only_contains_user_certs
    assert idp.full_name == [x509.UniformResourceIdentifier(URLS.root_crl("sign-2023"))]
    with pytest.raises(x509.ExtensionNotFound):
        parsed.extensions.get_extension_for_class(x509.FreshestCRL)


def test_arl_idp_repeats_the_root_certificates_own_cdp() -> None:
    # The root is its own issuer, so the ARL must carry the names its CDP gives (URI + DirName).
    ca = make_profile_ca()
    cdp = ca.certificate.extensions.get_extension_for_class(x509.CRLDistributionPoints).value
    assert len(cdp[0].full_name or []) == 2
    parsed = x509.load_der_x509_crl(crl([], CrlScope.arl(), issuer=ca))
    idp = parsed.extensions.get_extension_for_class(x509.IssuingDistributionPoint).value
    assert idp.full_name == cdp[0].full_name
    assert idp.only_contains_ca_certs


def test_aki_is_the_issuer_key_identifier_so_generations_with_one_dn_differ() -> None:
    old, new = make_ca(2019), make_ca(2023)
    assert old.certificate.subject == new.certificate.subject
    akis = []
    for ca in (old, new):
        parsed = x509.load_der_x509_crl(crl([], CrlScope.full(0), issuer=ca))
        aki = parsed.extensions.get_extension_for_class(x509.AuthorityKeyIdentifier).value
        ski = ca.certificate.extensions.get_extension_for_class(x509.SubjectKeyIdentifier)
        assert aki.key_identifier == ski.value.digest
        assert aki.authority_cert_issuer is None
        akis.append(aki.key_identifier)
    assert akis[0] != akis[1]


def test_empty_crl_omits_revoked_certificates() -> None:
    # RFC 5280 §5.1.2.6: absent, not an empty SEQUENCE.
    der = crl([], CrlScope.full(0))
    assert len(load(der)) == 0
    tbs = asn1_crl.CertificateList.load(der)["tbs_cert_list"]
    assert tbs["version"].native == "v2"  # RFC 5280 §5.1.2.1: v2 as extensions are present
    assert isinstance(tbs["revoked_certificates"], asn1_core.Void)


def test_scope_invariants() -> None:
    with pytest.raises(ValueError, match="shard"):
        CrlScope(CrlKind.FULL)
    with pytest.raises(ValueError, match="shard"):
        CrlScope.full(-1)
    with pytest.raises(ValueError, match="base CRL number"):
        CrlScope(CrlKind.FULL, 1, 3)
    with pytest.raises(ValueError, match="base CRL number"):
        CrlScope(CrlKind.DELTA, 1)
    with pytest.raises(ValueError, match="ARL"):
        CrlScope(CrlKind.ARL, 0)


# --- entries ------------------------------------------------------------------------------------


def test_entries_keep_input_order_and_are_consumed_lazily_once() -> None:
    consumed: list[int] = []

    def stream() -> Iterator[RevokedEntry]:
        for serial in (9, 3, 7):
            consumed.append(serial)
            yield RevokedEntry(serial, T0)

    parsed = load(crl(stream(), CrlScope.full(0)))
    assert [r.serial_number for r in parsed] == [9, 3, 7]
    assert consumed == [9, 3, 7]


def test_reason_unspecified_is_omitted_others_round_trip() -> None:
    reasons = [r for r in Reason if r is not Reason.REMOVE_FROM_CRL]
    entries = [RevokedEntry(10 + int(r), T0, r) for r in reasons]
    parsed = load(crl(entries, CrlScope.full(0)))
    for reason in reasons:
        revoked = parsed.get_revoked_certificate_by_serial_number(10 + int(reason))
        assert revoked is not None
        if reason is Reason.UNSPECIFIED:
            assert len(revoked.extensions) == 0  # RFC 5280 §5.3.1: SHOULD be absent
        else:
            value = revoked.extensions.get_extension_for_class(x509.CRLReason).value
            assert value.reason is x509.ReasonFlags[reason.name.lower()]


def test_non_utc_times_are_converted_and_fractions_dropped() -> None:
    tokyo = zoneinfo.ZoneInfo("Asia/Tokyo")
    local = [
        RevokedEntry(
            1,
            T0.astimezone(tokyo).replace(microsecond=999_999),
            Reason.KEY_COMPROMISE,
            (T0 - dt.timedelta(days=1)).astimezone(tokyo),
        )
    ]
    utc = [RevokedEntry(1, T0, Reason.KEY_COMPROMISE, T0 - dt.timedelta(days=1))]
    assert crl(local, CrlScope.full(0)) == crl(utc, CrlScope.full(0))


@pytest.mark.parametrize("serial", [0, -1, 1 << 159, 1 << 200])
def test_invalid_serials_are_refused(serial: int) -> None:
    with pytest.raises(InvalidEntry) as caught:
        crl([RevokedEntry(1, T0), RevokedEntry(serial, T0)], CrlScope.full(0))
    assert caught.value.serial == serial


@pytest.mark.parametrize("scope", [CrlScope.full(0), CrlScope.arl()])
def test_remove_from_crl_only_in_deltas(scope: CrlScope) -> None:
    with pytest.raises(InvalidEntry, match="REMOVE_FROM_CRL") as caught:
        crl([RevokedEntry(77, T0, Reason.REMOVE_FROM_CRL)], scope)
    assert caught.value.serial == 77


def test_naive_and_pre_1950_dates_are_refused() -> None:
    naive = dt.datetime(2026, 1, 1)
    with pytest.raises(InvalidEntry, match="naive"):
        crl([RevokedEntry(1, naive)], CrlScope.full(0))
    with pytest.raises(InvalidEntry, match="naive"):
        crl([RevokedEntry(1, T0, None, naive)], CrlScope.full(0))
    with pytest.raises(InvalidEntry, match="1950"):
        crl([RevokedEntry(1, dt.datetime(1949, 12, 31, tzinfo=UTC))], CrlScope.full(0))


# --- CRL-level errors ---------------------------------------------------------------------------


@pytest.mark.parametrize("number", [-1, 1 << 159])
def test_crl_number_out_of_range(number: int) -> None:
    with pytest.raises(InvalidCrlNumber) as caught:
        crl([], CrlScope.full(0), crl_number=number)
    assert caught.value.crl_number == number


@pytest.mark.parametrize("base", [41, 42])
def test_delta_number_must_exceed_its_base(base: int) -> None:
    with pytest.raises(InvalidCrlNumber, match="base"):
        crl([], CrlScope.delta(0, base), crl_number=41)


def test_next_update_after_this_update() -> None:
    with pytest.raises(InvalidValidity):
        crl([], CrlScope.full(0), next_update=T0)


def test_non_rsa_issuer_refused() -> None:
    ca = make_ca()
    ec_ca = CaIdentity(
        ca.ca_id,
        ca.hierarchy,
        ca.generation,
        ca.certificate,
        ec.generate_private_key(ec.SECP256R1()),
    )
    with pytest.raises(UnsupportedIssuerKey):
        crl([], CrlScope.full(0), issuer=ec_ca)


def test_errors_share_one_hierarchy() -> None:
    for error in (InvalidEntry, InvalidCrlNumber, InvalidValidity, UnsupportedIssuerKey):
        assert issubclass(error, CrlError)


# --- property: everything round-trips through cryptography's parser -----------------------------

_when = st.datetimes(
    min_value=dt.datetime(1950, 1, 1),
    max_value=dt.datetime(9999, 12, 31),
    timezones=st.just(UTC),
)


@settings(max_examples=60, deadline=None)
@given(
    entries=st.lists(
        st.builds(
            RevokedEntry,
            serial=st.integers(min_value=1, max_value=(1 << 159) - 1),
            revoked_at=_when,
            reason=st.none() | st.sampled_from(list(Reason)),
            invalidity_date=st.none() | _when,
        ),
        max_size=30,
        unique_by=lambda e: e.serial,
    ),
    base=st.integers(min_value=0, max_value=1000),
)
def test_round_trip(entries: list[RevokedEntry], base: int) -> None:
    parsed = load(crl(entries, CrlScope.delta(1, base), crl_number=base + 1))
    assert len(parsed) == len(entries)
    for entry, revoked in zip(entries, parsed, strict=True):
        assert revoked.serial_number == entry.serial
        assert revoked.revocation_date_utc == entry.revoked_at.replace(microsecond=0)
        try:
            reason: x509.ReasonFlags | None = revoked.extensions.get_extension_for_class(
                x509.CRLReason
            ).value.reason
        except x509.ExtensionNotFound:
            reason = None
        expected = (
            None
            if entry.reason in (None, Reason.UNSPECIFIED)
            else x509.ReasonFlags[entry.reason.name.lower()]
        )
        assert reason == expected
        try:
            invalid: dt.datetime | None = revoked.extensions.get_extension_for_class(
                x509.InvalidityDate
            ).value.invalidity_date_utc
        except x509.ExtensionNotFound:
            invalid = None
        expected_invalid = (
            None if entry.invalidity_date is None else entry.invalidity_date.replace(microsecond=0)
        )
        assert invalid == expected_invalid
