from __future__ import annotations

from mobile_jpki.cli.main import main

main()
