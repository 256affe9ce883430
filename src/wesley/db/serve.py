"""`python -m wesley.db.serve`: start an ephemeral PostgreSQL cluster, print a DSN to a
database in it on stdout, and keep it until SIGTERM/SIGINT or stdin closes; then remove it.
For demos and scripts that need a throwaway target database."""

from __future__ import annotations

import signal
import sys
import threading
from types import FrameType

from wesley.db.cluster import EphemeralCluster, create_database


def main() -> int:
    stop = threading.Event()

    def on_signal(_signum: int, _frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    name = sys.argv[1] if len(sys.argv) > 1 else "wesley_target"
    with EphemeralCluster() as cluster:
        print(create_database(cluster.dsn, name), flush=True)

        def until_stdin_closes() -> None:
            sys.stdin.read()
            stop.set()

        threading.Thread(target=until_stdin_closes, daemon=True).start()
        stop.wait()
    return 0


if __name__ == "__main__":
    sys.exit(main())
