"""Whatever the bytes, ``process`` answers a well-formed response ending in a known status word,
and never the last-resort 6F 00 (which would mean an internal exception)."""

from __future__ import annotations

from functools import cache

from applet_fakes import NOW, KeyPool, make_card, make_phone
from hypothesis import given, settings
from hypothesis import strategies as st

from mobile_jpki.applet import JpkiApplet, MemoryStateStore
from mobile_jpki.clock import FixedClock
from mobile_jpki.protocol.apdu import SW, CommandApdu
from mobile_jpki.protocol.constants import EF, JPKI_AID


@cache
def saved(kind: str) -> bytes:
    clock = FixedClock(NOW)
    dev = {
        "blank-card": lambda: make_card(clock, personalised=False),
        "card": lambda: make_card(clock),
        "phone": lambda: make_phone(clock),
        "fresh-phone": lambda: make_phone(clock, registered=False),
    }[kind]()
    assert dev.store.data is not None
    return dev.store.data


KINDS = st.sampled_from(["blank-card", "card", "phone", "fresh-phone"])


def applet(kind: str, store: MemoryStateStore | None = None) -> JpkiApplet:
    store = store or MemoryStateStore(saved(kind))
    return JpkiApplet(store, clock=FixedClock(NOW), key_factory=KeyPool())


def check(answer: bytes) -> None:
    assert len(answer) >= 2
    sw = int.from_bytes(answer[-2:], "big")
    assert SW.is_known(sw), f"{sw:04X}"
    assert sw != SW.UNKNOWN


@settings(max_examples=300, deadline=None)
@given(KINDS, st.binary(max_size=300))
def test_arbitrary_bytes(kind: str, raw: bytes) -> None:
    a = applet(kind)
    check(a.process(raw))
    check(a.process(CommandApdu(0, 0xA4, 4, 0x0C, JPKI_AID).to_bytes()))
    check(a.process(raw))


commands = st.builds(
    CommandApdu,
    cla=st.sampled_from([0x00, 0x80, 0x0C, 0xFF]),
    ins=st.integers(0, 255) | st.sampled_from([0x20, 0x24, 0x2A, 0x44, 0x46, 0x84, 0xA4, 0xB0,
                                               0xC0, 0xD6, 0xE4]),
    p1=st.integers(0, 255) | st.sampled_from([0, 1, 2, 4]),
    p2=st.integers(0, 255) | st.sampled_from([0, 0x0C, 0x80, 0x81]),
    data=st.binary(max_size=80),
    ne=st.none() | st.integers(1, 65536),
    extended=st.booleans(),
)  # fmt: skip


@settings(max_examples=300, deadline=None)
@given(KINDS, st.sampled_from([*list(EF), None]), st.lists(commands, min_size=1, max_size=4))
def test_well_formed_commands_in_every_state(
    kind: str, ef: EF | None, sequence: list[CommandApdu]
) -> None:
    store = MemoryStateStore(saved(kind))
    a = applet(kind, store)
    check(a.process(CommandApdu(0, 0xA4, 4, 0x0C, JPKI_AID).to_bytes()))
    if ef is not None:
        check(a.process(CommandApdu(0, 0xA4, 2, 0x0C, ef.to_bytes(2, "big")).to_bytes()))
    for cmd in sequence:
        check(a.process(cmd.to_bytes()))
    # The persisted state is still readable after whatever happened.
    assert JpkiApplet(store, clock=FixedClock(NOW)).state == a.state
