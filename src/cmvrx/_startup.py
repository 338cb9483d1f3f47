"""``import cmvrx`` with the cyclic garbage collector paused (design §5: a fresh
``cmvrx plan`` ≤ 0.5 s).

``cmvrx/__init__.py`` imports this module first and calls ``resume()`` after its own
imports. Those imports build some 150 classes (pydantic models, dataclasses); the
collector, run between them, would only walk them again and again (about 5 % of a fresh
``cmvrx plan``). Afterwards the collector is as it was before.
"""

from __future__ import annotations

import gc

_collecting = gc.isenabled()
gc.disable()


def resume() -> None:
    """Put the collector back as it was before ``import cmvrx``."""
    if _collecting:
        gc.enable()
