"""Class lists: bulk import of accounts from CSV (UTF-8, with or without BOM), and export.

Every row is checked first; bad rows are reported by line number and, unless the caller
asks to skip them, nothing is imported.
"""

from __future__ import annotations

import csv
import io
import itertools
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from ..base import passwords
from ..base.csv_writer import csv_lines
from ..base.db import db, sqlite_utils_db, utcnow
from ..base.errors import N_, Conflict, KruError, ValidationError
from . import (
    add_to_cohort,
    check_display_name,
    check_language,
    check_password,
    check_role,
    check_username,
    generate_password,
)
from .models import Cohort, MentorStudent, User

ROSTER_COLUMNS = ("username", "display_name", "password", "role", "cohort", "language", "mentor")


@dataclass
class RowProblem:
    """A bad row: its line in the file (the header is line 1) and what is wrong with it."""

    line: int
    error: KruError

    @property
    def message(self) -> str:
        """Return the problem in English (the CLI's language)."""
        return self.error.message

    def localized(self, gettext: Callable[[str], str]) -> str:
        """Return the problem in the language of ``gettext``."""
        return self.error.localized(gettext)


@dataclass
class Slip:
    """What one student needs to sign in, printed on a slip of paper (issue 14 item 15)."""

    display_name: str
    cohort: str
    username: str
    password: str | None  # None: the file gave it, and only the student's teacher knows it


@dataclass
class ImportResult:
    created: list[tuple[str, str | None]] = field(default_factory=list)  # (username, new pw)
    slips: list[Slip] = field(default_factory=list)  # one per account created, in file order
    problems: list[RowProblem] = field(default_factory=list)
    cohorts_created: list[str] = field(default_factory=list)


class RosterError(ValidationError):
    """The class list has bad rows; ``problems`` names each by line number."""

    code = "bad_rows"

    def __init__(self, problems: list[RowProblem]) -> None:
        super().__init__(
            N_("%(count)s row(s) of the class list are not valid; nothing was imported"),
            count=len(problems),
            details={"rows": [{"line": p.line, "message": p.message} for p in problems]},
        )
        self.problems = problems


def _decode(data: bytes) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ValidationError(
            N_("The file is not UTF-8 text; save it from the spreadsheet as CSV UTF-8"),
            code="not_utf8",
        ) from exc


def _parse_rows(text: str) -> tuple[list[tuple[int, dict[str, str]]], list[RowProblem]]:
    reader = csv.DictReader(io.StringIO(text, newline=""))
    header = [h.strip().lower() for h in (reader.fieldnames or [])]
    missing = [c for c in ("username", "display_name") if c not in header]
    if missing:
        raise ValidationError(
            N_("The first line must name the columns; missing: %(columns)s"),
            code="bad_header",
            columns=", ".join(missing),
        )
    unknown = [h for h in header if h not in ROSTER_COLUMNS]
    if unknown:
        raise ValidationError(
            N_("Unknown column(s): %(columns)s (known: %(known)s)"),
            code="bad_header",
            columns=", ".join(unknown),
            known=", ".join(ROSTER_COLUMNS),
        )
    reader.fieldnames = header
    rows: list[tuple[int, dict[str, str]]] = []
    problems: list[RowProblem] = []
    for record in reader:
        line = reader.line_num
        if None in record:
            problems.append(
                RowProblem(line, ValidationError(N_("The line has more fields than the header")))
            )
            continue
        values = {k: (v or "").strip() for k, v in record.items()}
        if not any(values.values()):
            continue  # blank line
        rows.append((line, values))
    return rows, problems


def import_roster(
    data: bytes, *, skip_bad_rows: bool = False, default_cohort: str | None = None
) -> ImportResult:
    """Import a class list (CSV, UTF-8 with or without BOM) in one transaction.

    Columns: username, display_name (required), password, role, cohort, language, mentor
    (on a learner's row: the username of the mentor who may see them, a mentor already on
    the site or one of the file). A missing password is generated and returned. Unless
    ``skip_bad_rows``, any bad row imports nothing.

    Raises:
        RosterError: bad rows and not ``skip_bad_rows``; ``problems`` has line numbers.
        ValidationError: the file is not UTF-8 CSV with a header line.
    """
    rows, problems = _parse_rows(_decode(data))
    if not rows and not problems:
        raise ValidationError(N_("The class list has no rows"), code="empty_file")
    existing = {u for (u,) in User.select(User.username).tuples().iterator()}
    mentors_here = {
        u for (u,) in User.select(User.username).where(User.role == "mentor").tuples().iterator()
    }
    mentors_here |= {
        (v.get("username") or "").strip().lower()
        for _line, v in rows
        if (v.get("role") or "").strip().lower() == "mentor"
    }
    seen: set[str] = set()
    good: list[tuple[int, dict[str, object]]] = []
    for line, values in rows:
        try:
            username = check_username(values.get("username", ""))
            if username in existing:
                raise Conflict(N_("Username %(username)s is already taken"), username=username)
            if username in seen:
                raise Conflict(
                    N_("Username %(username)s appears twice in the file"), username=username
                )
            password = values.get("password") or ""
            if password:
                check_password(password, username)
            role = check_role(values.get("role") or "learner")
            cohort = values.get("cohort") or default_cohort or ""
            if cohort and role == "admin":
                raise ValidationError(N_("Only learners and instructors join cohorts"))
            if len(cohort) > 100:
                raise ValidationError(N_("The cohort name must have 1 to 100 characters"))
            if cohort and role == "mentor":
                raise ValidationError(N_("A mentor joins no cohort: give the learners a mentor"))
            mentor = (values.get("mentor") or "").strip().lower()
            if mentor and role != "learner":
                raise ValidationError(N_("Only a learner's row names a mentor"))
            if mentor and mentor not in mentors_here:
                raise ValidationError(
                    N_("%(username)s is not a mentor on this site or in the file"),
                    username=mentor,
                )
            good.append(
                (
                    line,
                    {
                        "username": username,
                        "display_name": check_display_name(values.get("display_name", "")),
                        "password": password,
                        "role": role,
                        "cohort": cohort,
                        "language": check_language(values.get("language")),
                        "mentor": mentor,
                    },
                )
            )
            seen.add(username)
        except (ValidationError, Conflict) as exc:
            problems.append(RowProblem(line, exc))
    problems.sort(key=lambda p: p.line)
    if problems and not skip_bad_rows:
        raise RosterError(problems)

    result = ImportResult(problems=problems)
    hasher = passwords.hasher()
    prepared = []
    for _line, row in good:
        generated = None
        if not row["password"]:
            generated = generate_password()
        prepared.append((row, generated, hasher.hash(str(row["password"] or generated))))
    with db.atomic():
        cohorts: dict[str, Cohort] = {}
        for row, generated, pw_hash in prepared:
            user = User.create(
                username=row["username"],
                display_name=row["display_name"],
                role=row["role"],
                language=row["language"],
                password_hash=pw_hash,
            )
            result.created.append((user.username, generated))
            name = str(row["cohort"])
            result.slips.append(Slip(user.display_name, name, user.username, generated))
            if name:
                if name not in cohorts:
                    found = Cohort.select().where(Cohort.name == name).first()
                    if found is None:
                        found = Cohort.create(name=name)
                        result.cohorts_created.append(name)
                    cohorts[name] = found
                add_to_cohort(cohorts[name], user)
        for row, _generated, _hash in prepared:
            if row["mentor"]:
                MentorStudent.insert(
                    mentor=User.get(User.username == row["mentor"]),
                    learner=User.get(User.username == row["username"]),
                    assigned_at=utcnow(),
                ).on_conflict_ignore().execute()
    return result


_EXPORT_SQL = """
SELECT u.username, u.display_name, u.role,
       COALESCE(
           (SELECT c.name FROM cohorts c JOIN cohort_members m ON m.cohort_id = c.id
             WHERE m.user_id = u.id ORDER BY c.name LIMIT 1),
           (SELECT c.name FROM cohorts c JOIN cohort_instructors i ON i.cohort_id = c.id
             WHERE i.user_id = u.id ORDER BY c.name LIMIT 1),
           '') AS cohort,
       COALESCE(u.language, '') AS language
  FROM users u
 ORDER BY u.role, u.username
"""
EXPORT_COLUMNS = ("username", "display_name", "role", "cohort", "language")


def export_roster() -> Iterator[str]:
    """Yield the accounts as CSV lines in the import format (no passwords), BOM first.

    The BOM makes Excel read Khmer names as UTF-8. A learner in several cohorts is listed
    with the first by name. Read through sqlite-utils on peewee's own connection.
    """
    rows = ([row[c] for c in EXPORT_COLUMNS] for row in sqlite_utils_db().query(_EXPORT_SQL))
    yield from csv_lines(itertools.chain([EXPORT_COLUMNS], rows))
