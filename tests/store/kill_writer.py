"""A writer for the kill test: appends notes to one course and reports each commit.

Usage: python kill_writer.py URL COURSE_ID BATCH_SIZE

For ever (until killed): append BATCH_SIZE notes in one call; once ``add_events``
returned, print each acknowledged seq on its own line and flush. Event n carries the
text ``event n`` so the test can check that what is stored is what was written.
"""

from __future__ import annotations

import sys
from datetime import UTC, datetime, timedelta

from cmvrx.store import open_store


def main(url: str, course_id: str, batch_size: int) -> None:
    store = open_store(url)
    start = datetime(2026, 11, 24, tzinfo=UTC)
    n = len(store.get_course(course_id).events)
    while True:
        batch = [
            {"kind": "note", "at": (start + timedelta(minutes=n + i)).isoformat(),
             "text": f"event {n + i + 1}"}
            for i in range(batch_size)
        ]  # fmt: skip
        seqs = store.add_events(course_id, batch)
        # One write per batch: the acknowledgement of a batch is all its seqs or none.
        sys.stdout.write("".join(f"{seq}\n" for seq in seqs))
        sys.stdout.flush()
        n += batch_size


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], int(sys.argv[3]))
