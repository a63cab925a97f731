"""The JPKI AP as a pure APDU state machine: card and phone secure element (docs/apdu.md).

``process`` takes command bytes and returns response bytes; it never raises. Persistent changes
are saved through the :class:`StateStore` before the response leaves (a retry counter is
decremented and saved before the secret is compared), so pulling the card mid-command never
gives a free try. RAM state (selection, verified secrets, challenge) lives in :class:`Session`.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field, replace

from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.serialization import load_der_private_key

from mobile_jpki.clock import Clock
from mobile_jpki.protocol.apdu import (
    CLA_ISO,
    CLA_OF,
    CLA_PROPRIETARY,
    P1_SELECT_AID,
    P1_SELECT_EF,
    P2_BIOMETRIC,
    P2_NO_RESPONSE_DATA,
    P2_SECRET,
    SW,
    WRONG_LE,
    ApduParseError,
    CommandApdu,
    Ins,
    more_data,
    response,
    tries_left,
)
from mobile_jpki.protocol.constants import (
    ATR,
    EE_CERT_EFS,
    EF,
    JPKI_AID,
    KEY_EFS,
    SECRET_EFS,
    Slot,
)

from . import personalise
from .errors import AppletError
from .secrets import (
    BIOMETRIC_LABEL,
    BIOMETRIC_MAX,
    BIOMETRIC_MIN,
    StoredSecret,
    hash_secret,
    is_valid,
    label,
    length_ok,
    matches,
)
from .signing import max_input, sign_digest_info
from .state import AppletState, Lifecycle, StateError, StateStore, set_secret

RandomSource = Callable[[int], bytes]
KeyFactory = Callable[[], rsa.RSAPrivateKey]

# Commands that act on the current EF: without the AP there is no current EF (69 86).
_CLA_OF = {int(ins): cla for ins, cla in CLA_OF.items()}

#: GET CHALLENGE bounds (docs/apdu.md): at most 32 bytes per command (more → ``6C 20``); a
#: challenge kept for a management instruction has at least 8.
MAX_CHALLENGE = 32
MIN_CHALLENGE = 8
_GET_RESPONSE, _SELECT = int(Ins.GET_RESPONSE), int(Ins.SELECT)
_EF_COMMANDS = frozenset(
    {
        Ins.READ_BINARY,
        Ins.VERIFY,
        Ins.CHANGE_REFERENCE_DATA,
        Ins.COMPUTE_DIGITAL_SIGNATURE,
        Ins.GENERATE_ASYMMETRIC_KEY_PAIR,
        Ins.UPDATE_BINARY,
    }
)


def generate_rsa_key() -> rsa.RSAPrivateKey:
    """RSA-2048, e = 65537 (JPKI-FACTS.md "Certificates")."""
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def refuse(sw: int) -> AppletError:
    return AppletError(sw)


@dataclass
class Session:
    """Security state in RAM: cleared by SELECT of the AP and by power-on (ISO 7816-4 §5.4)."""

    selected: bool = False
    current: EF | None = None
    verified: set[Slot] = field(default_factory=set)  # by password/PIN
    biometric: bool = False  # stands in for the auth PIN only
    challenge: bytes | None = None
    repersonalise: bool = False  # a management instruction with action 40 was accepted


class JpkiApplet:
    """One JPKI AP over a :class:`StateStore` holding state made by :mod:`.factory`."""

    def __init__(
        self,
        store: StateStore,
        *,
        clock: Clock,
        random: RandomSource = os.urandom,
        key_factory: KeyFactory = generate_rsa_key,
    ) -> None:
        data = store.load()
        if data is None:
            raise StateError("empty store: make the applet with new_card() or new_secure_element()")
        self._state = AppletState.from_bytes(data)
        self._store = store
        self.clock = clock
        self.random = random
        self.key_factory = key_factory
        self.session = Session()
        self._pending = b""
        self._keys: dict[bytes, rsa.RSAPrivateKey] = {}
        # Built once, keyed by plain ints: an enum member lookup per handler and command
        # cost a quarter of an in-process APDU round trip (benchmarks/apdu.py).
        self._handlers: dict[int, Callable[[CommandApdu], bytes]] = {
            int(Ins.SELECT): self._select,
            int(Ins.READ_BINARY): self._read_binary,
            int(Ins.VERIFY): self._verify,
            int(Ins.CHANGE_REFERENCE_DATA): self._change,
            int(Ins.COMPUTE_DIGITAL_SIGNATURE): self._sign,
            int(Ins.GET_CHALLENGE): self._get_challenge,
            int(Ins.GENERATE_ASYMMETRIC_KEY_PAIR): lambda c: personalise.generate(self, c),
            int(Ins.UPDATE_BINARY): lambda c: personalise.update_binary(self, c),
            int(Ins.ACTIVATE): lambda c: personalise.activate(self, c),
            int(Ins.MANAGE): lambda c: personalise.manage(self, c),
        }

    # -- state -------------------------------------------------------------------------------
    @property
    def state(self) -> AppletState:
        return self._state

    def commit(self, new: AppletState) -> None:
        """Save, then adopt. If saving fails the old state stays and the command fails."""
        self._store.save(new.to_bytes())
        self._state = new

    def private_key(self, der: bytes) -> rsa.RSAPrivateKey:
        key = self._keys.get(der)
        if key is None:
            # We generated and stored this key ourselves: skip OpenSSL's slow RSA key check.
            loaded = load_der_private_key(der, None, unsafe_skip_rsa_key_validation=True)
            if not isinstance(loaded, rsa.RSAPrivateKey):
                raise StateError("stored key is not RSA")
            self._keys[der] = key = loaded
        return key

    # -- entry points ------------------------------------------------------------------------
    def power_on(self) -> bytes:
        """Cold reset: clears the RAM state and answers the ATR."""
        self.session = Session()
        self._pending = b""
        return ATR

    def process(self, apdu: bytes) -> bytes:
        """Answer one command APDU with response data + SW1 SW2. Never raises."""
        try:
            return self._process(bytes(apdu))
        except _Partial as partial:
            return response(partial.data, SW.END_OF_FILE)
        except (AppletError, ApduParseError) as exc:
            return response(b"", exc.sw)
        except Exception:
            # Last resort (ISO 7816-4 §5.6 "no precise diagnosis"): a broken store or a bug
            # must not take the reader down with it.
            return response(b"", SW.UNKNOWN)

    def _process(self, raw: bytes) -> bytes:
        cmd = CommandApdu.parse(raw)
        if cmd.cla not in (CLA_ISO, CLA_PROPRIETARY):
            raise refuse(SW.CLA_NOT_SUPPORTED)
        cla = _CLA_OF.get(cmd.ins)
        if cla is None:
            raise refuse(SW.INS_NOT_SUPPORTED)
        if cmd.cla != cla:
            raise refuse(SW.CLA_NOT_SUPPORTED)
        if cmd.ins == _GET_RESPONSE:
            return self._get_response(cmd)
        self._pending = b""
        if cmd.ins != _SELECT and not self.session.selected:
            ef_command = cmd.ins in _EF_COMMANDS
            raise refuse(SW.NO_CURRENT_EF if ef_command else SW.CONDITIONS_NOT_SATISFIED)
        data = self._handlers[cmd.ins](cmd)
        return self._deliver(cmd, data)

    def _deliver(self, cmd: CommandApdu, data: bytes) -> bytes:
        """Return ``data`` with 90 00, or as much as Ne allows and 61 XX for GET RESPONSE."""
        ne = cmd.ne or 0
        if len(data) <= ne:
            return response(data, SW.OK)
        self._pending = data[ne:]
        return response(data[:ne], more_data(len(self._pending)))

    def _get_response(self, cmd: CommandApdu) -> bytes:
        if cmd.p1p2 != 0:
            raise refuse(SW.WRONG_P1P2)
        if not self._pending:
            raise refuse(SW.CONDITIONS_NOT_SATISFIED)
        if cmd.ne is None:
            raise refuse(SW.WRONG_LENGTH)
        chunk, self._pending = self._pending[: cmd.ne], self._pending[cmd.ne :]
        return response(chunk, more_data(len(self._pending)) if self._pending else SW.OK)

    # -- files -------------------------------------------------------------------------------
    def current_ef(self) -> EF:
        if self.session.current is None:
            raise refuse(SW.NO_CURRENT_EF)
        return self.session.current

    def may_generate(self, slot: Slot) -> bool:
        """Key generation and end-entity certificate writes (docs/apdu.md "Lifecycle")."""
        if self._state.lifecycle is Lifecycle.PERSONALISATION or self.session.repersonalise:
            return True
        s = self._state.slot(slot)
        return self._state.profile.is_phone and (s.key is None or s.certificate is None)

    def may_administer(self) -> bool:
        """CA certificates and the instruction key: personalisation, or after action 40."""
        return self._state.lifecycle is Lifecycle.PERSONALISATION or self.session.repersonalise

    def content(self, ef: EF) -> bytes | None:
        st = self._state
        contents: dict[EF, bytes | None] = {
            EF.SIGN_CERT: st.sign.certificate,
            EF.AUTH_CERT: st.auth.certificate,
            EF.SIGN_CA_CERT: st.sign.ca_certificate,
            EF.AUTH_CA_CERT: st.auth.ca_certificate,
            EF.TOKEN_INFO: st.profile.token_info,
            EF.CERTS_PRESENT: st.certificates_present(),
            EF.ATTESTATION_CERT: st.attestation_certificate if st.profile.is_phone else None,
            EF.SERIAL: st.serial,
            EF.INSTRUCTION_KEY: st.instruction_key,
        }
        return contents.get(ef)

    def selectable(self, ef: EF) -> bool:
        if ef in SECRET_EFS:
            return True
        slot = Slot.of(ef)
        if ef in KEY_EFS and slot is not None:
            return self._state.slot(slot).key is not None or self.may_generate(slot)
        if ef in EE_CERT_EFS and slot is not None:
            s = self._state.slot(slot)
            # An empty certificate EF does not exist, except to receive the certificate of a
            # key that is already there (so a deleted slot answers 6A 82).
            return s.certificate is not None or (s.key is not None and self.may_generate(slot))
        if self.content(ef) is not None:
            return True
        return (
            ef in (EF.SIGN_CA_CERT, EF.AUTH_CA_CERT, EF.INSTRUCTION_KEY) and self.may_administer()
        )

    def authorised(self, slot: Slot) -> bool:
        if slot in self.session.verified:
            return True
        return slot is Slot.AUTH and self.session.biometric

    # -- ISO 7816-4 commands -----------------------------------------------------------------
    def _select(self, cmd: CommandApdu) -> bytes:
        if cmd.p2 not in (P2_NO_RESPONSE_DATA, 0x00):
            raise refuse(SW.WRONG_P1P2)
        if cmd.p1 == P1_SELECT_AID:  # by DF name (ISO 7816-4 §11.2.2)
            if cmd.data != JPKI_AID:
                raise refuse(SW.FILE_NOT_FOUND)
            self.session = Session(selected=True)
            return b""
        if cmd.p1 == P1_SELECT_EF:  # EF under the current DF
            if not self.session.selected:
                raise refuse(SW.FILE_NOT_FOUND)
            if len(cmd.data) != 2:
                raise refuse(SW.WRONG_LENGTH)
            fid = int.from_bytes(cmd.data, "big")
            if fid not in EF._value2member_map_ or not self.selectable(EF(fid)):
                raise refuse(SW.FILE_NOT_FOUND)
            self.session.current = EF(fid)
            return b""
        raise refuse(SW.WRONG_P1P2)

    def _read_binary(self, cmd: CommandApdu) -> bytes:
        if cmd.p1 & 0x80:  # short EF identifier addressing is not offered
            raise refuse(SW.WRONG_P1P2)
        ef = self.current_ef()
        if ef in KEY_EFS or ef in SECRET_EFS:
            raise refuse(SW.INCOMPATIBLE_FILE)
        content = self.content(ef)
        if content is None:
            raise refuse(SW.FILE_NOT_FOUND)
        if ef is EF.SIGN_CERT and not self.authorised(Slot.SIGN):
            raise refuse(SW.SECURITY_STATUS_NOT_SATISFIED)
        if ef is EF.AUTH_CERT and self._state.profile.is_phone and not self.authorised(Slot.AUTH):
            raise refuse(SW.SECURITY_STATUS_NOT_SATISFIED)
        offset = cmd.p1p2
        if offset >= len(content):
            raise refuse(SW.WRONG_OFFSET)
        if cmd.ne is None:
            raise refuse(SW.WRONG_LENGTH)
        chunk = content[offset : offset + cmd.ne]
        if len(chunk) < cmd.ne:
            # ISO 7816-4 §11.3.3: end of file reached before Ne bytes; the data still goes out.
            raise _Partial(chunk)
        return chunk

    def _secret_slot(self, cmd: CommandApdu, p1: int) -> Slot:
        if cmd.p1 != p1 or cmd.p2 not in (P2_SECRET, P2_BIOMETRIC):
            raise refuse(SW.WRONG_P1P2)
        ef = self.current_ef()
        slot = Slot.of(ef)
        if ef not in SECRET_EFS or slot is None:
            raise refuse(SW.INCOMPATIBLE_FILE)
        if cmd.p2 == P2_BIOMETRIC:
            if not self._state.profile.is_phone:
                raise refuse(SW.WRONG_P1P2)
            if slot is not Slot.AUTH:  # biometrics never stand in for the signing password
                raise refuse(SW.INCOMPATIBLE_FILE)
        return slot

    def _verify(self, cmd: CommandApdu) -> bytes:
        slot = self._secret_slot(cmd, 0x00)
        stored = self._state.slot(slot).secret
        if cmd.p2 == P2_BIOMETRIC:
            return self._verify_biometric(cmd, stored)
        if stored is None:
            raise refuse(SW.REFERENCE_DATA_BLOCKED)
        if not cmd.data:  # status query (ISO 7816-4 §11.5.6)
            if stored.counter.blocked:
                raise refuse(SW.REFERENCE_DATA_BLOCKED)
            raise refuse(tries_left(stored.counter.remaining))
        if not length_ok(slot, cmd.data):
            raise refuse(SW.WRONG_LENGTH)
        if stored.counter.blocked:
            raise refuse(SW.REFERENCE_DATA_BLOCKED)
        self.session.verified.discard(slot)
        if slot is Slot.AUTH:
            self.session.biometric = False
        right = self._try_secret(slot, stored, cmd.data, stored.digest, label(slot), reset=True)
        if right:
            self.session.verified.add(slot)
            return b""
        remaining = stored.counter.remaining - 1
        raise refuse(SW.REFERENCE_DATA_BLOCKED if remaining == 0 else tries_left(remaining))

    def _try_secret(
        self,
        slot: Slot,
        stored: StoredSecret,
        value: bytes,
        reference: bytes,
        digest_label: bytes,
        *,
        reset: bool,
    ) -> bool:
        """Decrement and save, then compare; on a match restore the counter (to the maximum
        for the secret itself, to its previous value for a biometric token)."""
        st = self._state
        slot_state = st.slot(slot)
        lowered = replace(stored, counter=stored.counter.decremented())
        self.commit(st.with_slot(slot, replace(slot_state, secret=lowered)))
        ok = matches(
            value, reference, salt=st.salt, label=digest_label, iterations=st.kdf_iterations
        )
        if ok:
            counter = stored.counter.reset() if reset else stored.counter
            self.commit(
                st.with_slot(slot, replace(slot_state, secret=replace(stored, counter=counter)))
            )
        return ok

    def _verify_biometric(self, cmd: CommandApdu, stored: StoredSecret | None) -> bytes:
        reference = self._state.biometric
        if stored is None or reference is None:
            raise refuse(SW.CONDITIONS_NOT_SATISFIED)
        if stored.counter.blocked:
            raise refuse(SW.AUTH_METHOD_BLOCKED)
        if not BIOMETRIC_MIN <= len(cmd.data) <= BIOMETRIC_MAX:
            raise refuse(SW.WRONG_LENGTH)
        self.session.biometric = False
        # A wrong token counts against the auth PIN: one counter guards the auth key.
        if self._try_secret(Slot.AUTH, stored, cmd.data, reference, BIOMETRIC_LABEL, reset=False):
            self.session.biometric = True
            return b""
        remaining = stored.counter.remaining - 1
        raise refuse(SW.REFERENCE_DATA_BLOCKED if remaining == 0 else tries_left(remaining))

    def _change(self, cmd: CommandApdu) -> bytes:
        slot = self._secret_slot(cmd, 0x01)
        st = self._state
        if cmd.p2 == P2_BIOMETRIC:
            # Enrolment needs the PIN itself, not a previous biometric match.
            if Slot.AUTH not in self.session.verified:
                raise refuse(SW.SECURITY_STATUS_NOT_SATISFIED)
            if not BIOMETRIC_MIN <= len(cmd.data) <= BIOMETRIC_MAX:
                raise refuse(SW.INCORRECT_DATA)
            digest = hash_secret(
                cmd.data, salt=st.salt, label=BIOMETRIC_LABEL, iterations=st.kdf_iterations
            )
            self.commit(replace(st, biometric=digest))
            return b""
        stored = st.slot(slot).secret
        if stored is not None:
            if stored.counter.blocked:
                raise refuse(SW.REFERENCE_DATA_BLOCKED)
            if slot not in self.session.verified:
                raise refuse(SW.SECURITY_STATUS_NOT_SATISFIED)
        if not is_valid(slot, cmd.data):
            raise refuse(SW.INCORRECT_DATA)
        self.commit(set_secret(st, slot, cmd.data))
        self.session.verified.add(slot)
        return b""

    def _sign(self, cmd: CommandApdu) -> bytes:
        if cmd.p1 != 0x00 or cmd.p2 != P2_SECRET:
            raise refuse(SW.WRONG_P1P2)
        ef = self.current_ef()
        slot = Slot.of(ef)
        if ef not in KEY_EFS or slot is None:
            raise refuse(SW.INCOMPATIBLE_FILE)
        der = self._state.slot(slot).key
        if der is None or self._state.lifecycle is not Lifecycle.OPERATIONAL:
            raise refuse(SW.CONDITIONS_NOT_SATISFIED)
        if not self.authorised(slot):
            raise refuse(SW.SECURITY_STATUS_NOT_SATISFIED)
        key = self.private_key(der)
        if not cmd.data or len(cmd.data) > max_input(key):
            raise refuse(SW.WRONG_LENGTH)
        return sign_digest_info(key, cmd.data)

    def _get_challenge(self, cmd: CommandApdu) -> bytes:
        """GET CHALLENGE (ISO/IEC 7816-4): Le random bytes, at most MAX_CHALLENGE.

        The real card's limit is not public; ours is a choice (docs/apdu.md). Above it the
        answer is ``6C 20`` ("wrong Le field, SW2 = the exact number of bytes available",
        ISO/IEC 7816-4 status bytes): a host re-sends with Le = 32 and asks again for the rest
        — OpenSC's ``sc_get_challenge`` does, so ``C_GenerateRandom(100)`` gets 32+32+32+4.
        A challenge shorter than MIN_CHALLENGE is random output only: it is not remembered
        for a management instruction, whose freshness needs at least 8 bytes."""
        if cmd.p1p2 != 0:
            raise refuse(SW.WRONG_P1P2)
        if cmd.ne is None:
            raise refuse(SW.WRONG_LENGTH)
        if cmd.ne > MAX_CHALLENGE:
            raise refuse(WRONG_LE | MAX_CHALLENGE)
        challenge = self.random(cmd.ne)
        if len(challenge) != cmd.ne:
            raise refuse(SW.UNKNOWN)
        self.session.challenge = challenge if cmd.ne >= MIN_CHALLENGE else None
        return challenge


class _Partial(AppletError):
    """READ BINARY past the end: data and 62 82 (a warning, not an error)."""

    def __init__(self, data: bytes) -> None:
        super().__init__(SW.END_OF_FILE)
        self.data = data
