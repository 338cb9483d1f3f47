"""Rich rendering of plans, doses and knowledge summaries for a person at a terminal.

Headings, tables and short lines — no walls of text. Every report ends with the
knowledge version, hash, ``as_of`` and the disclaimer. Rendering only: no clinical
logic, no decisions; the values shown are the ones in the ``Plan`` / ``DrugDose``.
Only ``cmvrx.cli`` imports this package (and with it Rich).
"""

from cmvrx.cli.render.common import console
from cmvrx.cli.render.doses import render_dose
from cmvrx.cli.render.knowledge import render_knowledge_check, render_knowledge_show
from cmvrx.cli.render.plan import render_plan
from cmvrx.cli.render.plan_brief import render_plan_brief

__all__ = [
    "console",
    "render_dose",
    "render_knowledge_check",
    "render_knowledge_show",
    "render_plan",
    "render_plan_brief",
]
