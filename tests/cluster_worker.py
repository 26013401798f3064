"""A cluster worker process for the fault tests: `intently serve --role worker`, which
optionally kills itself (SIGKILL) just before or just after its Nth write transaction commits
(CRASH_AT=before:N or after:N)."""

from __future__ import annotations

import os
import signal

from intently.config import Settings
from intently.roles import run_worker
from intently.store import postgres

mode, _, nth = os.environ.get("CRASH_AT", "").partition(":")
if mode:
    commits = 0
    commit = postgres._Transaction.commit

    def crashing_commit(self: postgres._Transaction) -> None:
        global commits
        commits += 1
        if commits == int(nth) and mode == "before":
            os.kill(os.getpid(), signal.SIGKILL)
        commit(self)
        if commits == int(nth) and mode == "after":
            os.kill(os.getpid(), signal.SIGKILL)

    postgres._Transaction.commit = crashing_commit  # type: ignore[method-assign]

run_worker(Settings.load(None))
