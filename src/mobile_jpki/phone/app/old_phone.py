"""What the old phone does when it comes online: carry out the service's deletions and say
why, once (JPKI-FACTS "One phone per person", the 48-hour rule; docs/lifecycle.md).

Kept apart from :mod:`.flows` (the screens' rules) because the CLI's ``phone sync`` names the
same notices (:func:`old_phone_notice`).
"""

from __future__ import annotations

import datetime as dt

from mobile_jpki.phone.app.backend import AppBackend, BackendError, InstructionKind, Rejected
from mobile_jpki.phone.app.messages import message_for
from mobile_jpki.phone.app.screens import Message
from mobile_jpki.protocol.instructions import InstructionReason

# The suffix of the old phone's notice for each cause (texts old_phone_deleted*, old_phone_kept*);
# a model change on another phone has the plain text.
_NOTICE_CAUSE: dict[str, str] = {
    InstructionReason.REVOKED_FROM_MY_PAGE: "_other",
    InstructionReason.CARD_REPLACED: "_card",
}


def old_phone_notice(reason: str, *, kept: bool) -> str:
    """The text id of the old phone's notice: its real cause (a model change on another phone,
    失効 from another phone, a renewed or replaced card) and whether the certificates were
    deleted (back within 48 hours) or stay, revoked (after). One place for the app and the
    CLI (`phone sync`), so neither names a card replacement a model change."""
    return f"old_phone_{'kept' if kept else 'deleted'}{_NOTICE_CAUSE.get(reason, '')}"


def carry_out_instructions(
    backend: AppBackend, now: dt.datetime
) -> tuple[str, tuple[str, ...]] | Message:
    """Fetch the device's instructions and carry out those still within their window.
    Returns the notice's text id ("" for none) and the ids of the instructions told of but not
    carried out (remembered as seen on OK), or the message of a backend error."""
    try:
        instructions = list(backend.fetch_instructions())
    except BackendError as err:
        return message_for(err)
    notice = ""
    kept: list[str] = []
    for instruction in instructions:
        # The notice names the real cause: a model change on another phone, 失効 from
        # another phone, or a renewed/replaced card. A release's re-issue is carried out
        # without one: the person asked for it on this phone (docs/lifecycle.md).
        silent = instruction.kind is InstructionKind.REISSUE
        # JPKI-FACTS: deleted if the old phone comes online within 48 h of the revocation;
        # after that the certificates stay on it, revoked.
        if not instruction.lapsed and now <= instruction.delete_until:
            try:
                backend.delete_certificates(instruction)
                if not silent:
                    notice = old_phone_notice(instruction.reason, kept=False)
                continue
            except Rejected as err:
                if err.code == "instruction-superseded":
                    # Withdrawn, or the element holds newer certificates than the ones
                    # named (registered since): nothing was deleted, nothing to say.
                    continue
                if err.code != "instruction-expired":
                    return message_for(err)
            except BackendError as err:
                return message_for(err)
        if silent:
            backend.notice_shown(instruction.instruction_id)  # nothing to tell
            continue
        notice = notice or old_phone_notice(instruction.reason, kept=True)
        kept.append(instruction.instruction_id)
    return notice, tuple(kept)
