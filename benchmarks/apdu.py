"""APDU round trips per second: in-process vs through pcscd + vpcd (PC/SC via pyscard).

    python benchmarks/apdu.py [--seconds 3]

Starts what it needs (a private pcscd with vpcd, as the pcsc tests do; root + pcscd +
vsmartcard-vpcd), attaches one emulated card to both paths and reports both figures from one
run. The command is READ BINARY of the 32-byte token info (EF 0006), the cheapest real command:
the figure is the transport's cost, not the applet's work.
"""

from __future__ import annotations

import argparse
import datetime as dt
import tempfile
import time
from pathlib import Path

from mobile_jpki.clock import FixedClock
from mobile_jpki.reader.commands import JpkiClient
from mobile_jpki.reader.connection import CardConnection, InProcessConnection
from mobile_jpki.reader.emulated import create_card, open_card
from mobile_jpki.reader.pcscd import PrivatePcscd, unavailable_reason, wait_for_card
from mobile_jpki.reader.vpcd import VpcdBridge

READ_TOKEN_INFO = bytes.fromhex("00B0000020")


def rate(conn: CardConnection, seconds: float) -> tuple[float, int]:
    client = JpkiClient(conn)
    client.select_ef(0x0006)
    n = 0
    start = time.perf_counter()
    deadline = start + seconds
    while time.perf_counter() < deadline:
        for _ in range(50):
            _data, sw = conn.transmit(READ_TOKEN_INFO)
            if sw != 0x9000:
                raise SystemExit(f"unexpected SW {sw:04X}")
        n += 50
    return n / (time.perf_counter() - start), n


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--seconds", type=float, default=3.0, help="time per path")
    args = parser.parse_args()
    clock = FixedClock(dt.datetime(2026, 4, 1, tzinfo=dt.UTC))
    with tempfile.TemporaryDirectory(prefix="mobile-jpki-bench-") as tmp:
        data = Path(tmp) / "data"
        create_card(data, "bench", clock=clock)
        local, n_local = rate(InProcessConnection(open_card(data, "bench", clock=clock)),
                              args.seconds)  # fmt: skip
        reason = unavailable_reason()
        pcsc: float | None = None
        n_pcsc = 0
        if reason is None:
            with PrivatePcscd(Path(tmp) / "pcscd") as daemon:
                daemon.apply_env()
                from mobile_jpki.reader.pcsc import PcscConnection

                bridge = VpcdBridge(open_card(data, "bench", clock=clock),
                                    port=daemon.vpcd_port())  # fmt: skip
                with bridge.running():
                    wait_for_card(daemon.reader_name())
                    with PcscConnection(daemon.reader_name()) as conn:
                        pcsc, n_pcsc = rate(conn, args.seconds)
        print("APDU round trips per second (READ BINARY 32 bytes, one run)")
        print(f"  {'in-process':<28} {local:>10,.0f} /s   ({n_local} APDUs)")
        if pcsc is None:
            print(f"  {'pcscd + vpcd (pyscard)':<28} {'skipped':>10}     ({reason})")
        else:
            print(f"  {'pcscd + vpcd (pyscard)':<28} {pcsc:>10,.0f} /s   ({n_pcsc} APDUs)")
            print(f"  PC/SC costs {local / pcsc:,.0f}x the in-process round trip")


if __name__ == "__main__":
    main()
