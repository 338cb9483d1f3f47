"""The CLI's progress bar (drawn only on a terminal) takes every stage the engine reports."""

from __future__ import annotations

from cmvrx.cli.audit import _Bar, _progress


def test_bar_takes_every_stage() -> None:
    bar = _Bar()
    bar.progress.start()
    try:
        for stage, done, total in (("read", 10, 100), ("read", 100, 100), ("audit", 3, 5)):
            bar(stage, done, total)
    finally:
        bar.progress.stop()
    assert len(bar.progress.tasks) == 2


def test_no_bar_without_a_terminal() -> None:
    with _progress() as progress:  # pytest captures stderr: not a terminal
        assert progress is None
