"""The one exception tree of cmvrx.

::

    CmvrxError
    ├── InputError(ValueError)          a user's input is wrong: names the field
    │   ├── UnitError                   an unknown or mismatched unit
    │   ├── ImplausibleValueError       outside the plausible range for a person
    │   ├── ContradictoryInputError     two inputs that cannot both be true
    │   ├── InsufficientDataError       a needed value is missing or stale: "measure X"
    │   ├── UnknownCourseError(LookupError)  no stored course has this id
    │   └── DuplicateCourseError        a stored course already has this id
    ├── KnowledgeError                  the knowledge files are malformed (file + key)
    ├── StorageError                    the course database failed, cannot be opened or
    │                                   migrated, or a needed extra is not installed
    └── NotRecommendedError             a drug/phase the knowledge refuses (e.g. letermovir
                                        for treatment); carries the reason and rule id

Only ``cli/`` turns these into exit codes, and only a service layer into HTTP codes.
"""

from __future__ import annotations


class CmvrxError(Exception):
    """Root of every error cmvrx raises on purpose."""


class InputError(CmvrxError, ValueError):
    """The input is wrong; ``field`` names the offending field (dotted path)."""

    def __init__(self, message: str, *, field: str | None = None) -> None:
        self.field = field
        super().__init__(f"{field}: {message}" if field else message)


class UnitError(InputError):
    """A unit cmvrx does not know, or one that does not fit the quantity."""


class ImplausibleValueError(InputError):
    """A value outside what a living patient can have (e.g. age 250, weight 0)."""


class ContradictoryInputError(InputError):
    """Inputs that contradict each other (e.g. hemodialysis with CrCl 90 mL/min)."""


class InsufficientDataError(InputError):
    """A value needed for a dose is missing or stale; ``measure`` says what to obtain."""

    def __init__(self, message: str, *, field: str | None = None, measure: str) -> None:
        self.measure = measure
        super().__init__(f"insufficient data: measure {measure} ({message})", field=field)


class UnknownCourseError(InputError, LookupError):
    """No stored course has this id."""

    def __init__(self, course_id: str) -> None:
        self.course_id = course_id
        super().__init__(f"no course {course_id!r} in this database", field="course_id")


class DuplicateCourseError(InputError):
    """A stored course already has this id (ids are never reused)."""

    def __init__(self, course_id: str) -> None:
        self.course_id = course_id
        super().__init__(
            f"a course {course_id!r} already exists in this database", field="course_id"
        )


class StorageError(CmvrxError):
    """The course database failed or cannot be used; the message names it (no password)."""


class KnowledgeError(CmvrxError):
    """A knowledge data file is malformed; the message names the file and key."""


class NotRecommendedError(CmvrxError):
    """The knowledge refuses this drug or phase for this use; says why and which rule."""

    def __init__(self, message: str, *, rule_id: str, cite: tuple[str, ...] = ()) -> None:
        self.rule_id = rule_id
        self.cite = cite
        super().__init__(f"{message} [rule {rule_id}]")
