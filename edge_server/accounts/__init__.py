"""Accounts and cohorts: create, edit, deactivate, authenticate; who may see what.

Plain functions over the models; no Flask. Errors are typed (``edge_server.base.errors``) so the
CLI, the API and the pages each show them their own way.
"""

from __future__ import annotations

import re
import secrets

from peewee import IntegrityError

from ..base import passwords
from ..base.db import db, utcnow
from ..base.errors import N_, Conflict, NotFound, PermissionDenied, ValidationError
from .models import (
    ROLES,
    Cohort,
    CohortInstructor,
    CohortMember,
    MentorStudent,
    User,
    UserSession,
)

USERNAME_RE = re.compile(r"^[a-z0-9][a-z0-9._-]{1,31}$")
LANGUAGES = ("km", "en")


def normalize_username(username: str) -> str:
    return (username or "").strip().lower()


def check_username(username: str) -> str:
    """Return the normalised username.

    Raises:
        ValidationError: it is not 2-32 lowercase letters, digits, dots, dashes or underscores.
    """
    name = normalize_username(username)
    if not USERNAME_RE.match(name):
        raise ValidationError(
            N_(
                "Username %(username)s is not valid: use 2 to 32 Latin letters, digits, "
                "dots, dashes or underscores, starting with a letter or digit"
            ),
            code="invalid_username",
            username=repr(username),
        )
    return name


def check_password(password: str, username: str | None = None) -> str:
    """Return ``password`` when it may be set for ``username`` (the rule in ``passwords``).

    Raises:
        WeakPassword: a ValidationError with code ``weak_password`` and a ``reason``.
    """
    return passwords.check_new_password(password, username)


def check_role(role: str) -> str:
    role = (role or "").strip().lower()
    if role not in ROLES:
        raise ValidationError(
            N_("Role %(role)s is not one of learner, instructor, admin, mentor"),
            code="invalid_role",
            role=repr(role),
        )
    return role


def check_language(language: str | None) -> str | None:
    language = (language or "").strip().lower() or None
    if language is not None and language not in LANGUAGES:
        raise ValidationError(
            N_("Language %(language)s is not one of km, en"),
            code="invalid_language",
            language=repr(language),
        )
    return language


def check_display_name(display_name: str) -> str:
    name = (display_name or "").strip()
    if not name or len(name) > 100:
        raise ValidationError(
            N_("The display name must have 1 to 100 characters"), code="invalid_display_name"
        )
    return name


def generate_password() -> str:
    """Return an easy-to-type password for a printed class list (8 digits, never a common one)."""
    while True:
        made = "".join(secrets.choice("23456789") for _ in range(8))
        if made not in passwords.common_passwords():
            return made


def create_user(
    username: str,
    password: str,
    *,
    display_name: str | None = None,
    role: str = "learner",
    language: str | None = None,
) -> User:
    """Create and return a user.

    Raises:
        ValidationError: a field is not valid.
        Conflict: the username is taken.
    """
    name = check_username(username)
    fields = {
        "username": name,
        "display_name": check_display_name(display_name or name),
        "role": check_role(role),
        "language": check_language(language),
    }
    check_password(password, name)
    if User.select().where(User.username == name).exists():
        raise Conflict(
            N_("Username %(username)s is already taken"), code="username_taken", username=name
        )
    fields["password_hash"] = passwords.hasher().hash(password)
    try:
        with db.atomic():
            return User.create(**fields)
    except IntegrityError as exc:
        raise Conflict(
            N_("Username %(username)s is already taken"), code="username_taken", username=name
        ) from exc


def get_user(user_id: int | None = None, *, username: str | None = None) -> User:
    """Raises: NotFound when no such user exists."""
    query = User.select()
    query = (
        query.where(User.id == user_id)
        if user_id is not None
        else query.where(User.username == normalize_username(username or ""))
    )
    user = query.first()
    if user is None:
        raise NotFound(N_("No user %(user)s"), code="user_not_found", user=username or str(user_id))
    return user


def update_user(
    user: User,
    *,
    display_name: str | None = None,
    role: str | None = None,
    language: str | None = None,
    active: bool | None = None,
) -> User:
    """Change the given fields of ``user`` and save.

    Raises:
        ValidationError: a field is not valid.
    """
    if display_name is not None:
        user.display_name = check_display_name(display_name)
    was = (user.role, bool(user.active))
    if role is not None:
        user.role = check_role(role)
    if language is not None:
        user.language = check_language(language)
    if active is not None:
        user.active = bool(active)
    user.updated_at = utcnow()
    with db.atomic():
        user.save()
        # A new role or a deactivation must not ride on sessions opened under the old one.
        if user.role != was[0] or (was[1] and not user.active):
            end_sessions(user)
    return user


def set_password(user: User, password: str) -> None:
    """Set a new password and end every session of ``user`` (a lost phone stays signed out).

    Raises:
        WeakPassword: the password breaks the rule (``passwords.check_new_password``).
    """
    check_password(password, user.username)
    user.password_hash = passwords.hasher().hash(password)
    user.updated_at = utcnow()
    with db.atomic():
        user.save()
        end_sessions(user)


def end_sessions(user: User) -> int:
    """End every sign-in session of ``user`` on every phone; return how many there were."""
    return UserSession.delete().where(UserSession.user == user.id).execute()


def authenticate(username: str, password: str) -> User | None:
    """Return the active user with these credentials, or None."""
    user = User.select().where(User.username == normalize_username(username)).first()
    hasher = passwords.hasher()
    if user is None:
        hasher.dummy_verify()
        return None
    if not hasher.verify(user.password_hash, password or ""):
        return None
    if not user.active:
        return None
    if hasher.needs_rehash(user.password_hash):
        user.password_hash = hasher.hash(password)
        user.save()
    return user


def list_users(role: str | None = None, search: str = "") -> list[User]:
    """Return the accounts (of ``role``), those whose username or name holds ``search``."""
    query = User.select().order_by(User.role, User.username)
    if role:
        query = query.where(User.role == check_role(role))
    words = search.strip()
    if words:
        query = query.where(User.username.contains(words) | User.display_name.contains(words))
    return list(query)


# --- cohorts ---------------------------------------------------------------------------


def create_cohort(name: str, description: str = "") -> Cohort:
    """Raises: ValidationError for an empty name, Conflict when the name is taken."""
    name = (name or "").strip()
    if not name or len(name) > 100:
        raise ValidationError(
            N_("The cohort name must have 1 to 100 characters"), code="invalid_cohort_name"
        )
    if Cohort.select().where(Cohort.name == name).exists():
        raise Conflict(N_("Cohort %(name)s already exists"), code="cohort_exists", name=name)
    return Cohort.create(name=name, description=(description or "").strip())


def get_cohort(cohort_id: int | None = None, *, name: str | None = None) -> Cohort:
    """Raises: NotFound when no such cohort exists."""
    query = Cohort.select()
    query = (
        query.where(Cohort.id == cohort_id)
        if cohort_id is not None
        else query.where(Cohort.name == (name or "").strip())
    )
    cohort = query.first()
    if cohort is None:
        raise NotFound(
            N_("No cohort %(cohort)s"), code="cohort_not_found", cohort=name or str(cohort_id)
        )
    return cohort


def add_to_cohort(cohort: Cohort, user: User) -> None:
    """Add a learner as member, or an instructor as teacher, of ``cohort`` (idempotent).

    Raises:
        ValidationError: ``user`` is an admin (admins see everything, they join nothing).
    """
    if user.role == "learner":
        CohortMember.insert(cohort=cohort, user=user).on_conflict_ignore().execute()
    elif user.role == "instructor":
        CohortInstructor.insert(cohort=cohort, user=user).on_conflict_ignore().execute()
    else:
        raise ValidationError(
            N_("Only learners and instructors join cohorts"), code="invalid_cohort_member"
        )


def remove_from_cohort(cohort: Cohort, user: User) -> None:
    CohortMember.delete().where(
        (CohortMember.cohort == cohort) & (CohortMember.user == user)
    ).execute()
    CohortInstructor.delete().where(
        (CohortInstructor.cohort == cohort) & (CohortInstructor.user == user)
    ).execute()


def cohort_learners(cohort: Cohort) -> list[User]:
    return list(
        User.select()
        .join(CohortMember)
        .where(CohortMember.cohort == cohort)
        .order_by(User.display_name, User.username)
    )


def cohort_instructors(cohort: Cohort) -> list[User]:
    return list(
        User.select()
        .join(CohortInstructor)
        .where(CohortInstructor.cohort == cohort)
        .order_by(User.display_name)
    )


def visible_cohorts(user: User) -> list[Cohort]:
    """Return the cohorts ``user`` may see: all for admins, taught ones for instructors,
    their own for learners."""
    query = Cohort.select().order_by(Cohort.name)
    if user.role == "instructor":
        query = query.join(CohortInstructor).where(CohortInstructor.user == user)
    elif user.role == "learner":
        query = query.join(CohortMember).where(CohortMember.user == user)
    elif user.role != "admin":
        return []  # a mentor sees student teachers, one by one, never a cohort
    return list(query)


def can_see_cohort(user: User, cohort_id: int) -> bool:
    if user.role == "admin":
        return True
    if user.role == "instructor":
        return (
            CohortInstructor.select()
            .where((CohortInstructor.user == user) & (CohortInstructor.cohort == cohort_id))
            .exists()
        )
    return False


def can_see_learner(viewer: User, learner_id: int) -> bool:
    """Return whether ``viewer`` may see the learning data of ``learner_id``."""
    if viewer.role == "admin" or viewer.id == learner_id:
        return True
    if viewer.role == "mentor":
        return is_mentor_of(viewer, learner_id)
    if viewer.role != "instructor":
        return False
    return (
        CohortMember.select()
        .join(CohortInstructor, on=(CohortInstructor.cohort == CohortMember.cohort))
        .where((CohortInstructor.user == viewer) & (CohortMember.user == learner_id))
        .exists()
    )


# Mentors (issue 15): a school-based mentor sees only the student teachers assigned to them.


def is_mentor_of(mentor: User, learner_id: int) -> bool:
    return (
        MentorStudent.select()
        .where((MentorStudent.mentor == mentor) & (MentorStudent.learner == learner_id))
        .exists()
    )


def mentor_students(mentor: User) -> list[User]:
    """Return the active student teachers assigned to ``mentor``, by name."""
    return list(
        User.select()
        .join(MentorStudent, on=(MentorStudent.learner == User.id))
        .where((MentorStudent.mentor == mentor) & (User.active == True))  # noqa: E712 - SQL
        .order_by(User.display_name, User.username)
    )


def mentors_of(learner: User) -> list[User]:
    return list(
        User.select()
        .join(MentorStudent, on=(MentorStudent.mentor == User.id))
        .where(MentorStudent.learner == learner)
        .order_by(User.display_name)
    )


def assign_mentor(by: User, mentor: User, learner: User) -> None:
    """Let ``mentor`` see and observe ``learner`` (idempotent).

    Raises:
        ValidationError: ``mentor`` is not a mentor, or ``learner`` not a learner.
        PermissionDenied: ``by`` is neither an admin nor an instructor of the learner's cohort.
    """
    _check_mentoring(by, mentor, learner)
    MentorStudent.insert(
        mentor=mentor, learner=learner, assigned_by=by, assigned_at=utcnow()
    ).on_conflict_ignore().execute()


def unassign_mentor(by: User, mentor: User, learner: User) -> None:
    """Raises: as ``assign_mentor``."""
    _check_mentoring(by, mentor, learner)
    MentorStudent.delete().where(
        (MentorStudent.mentor == mentor) & (MentorStudent.learner == learner)
    ).execute()


def _check_mentoring(by: User, mentor: User, learner: User) -> None:
    if mentor.role != "mentor":
        raise ValidationError(
            N_("%(username)s is not a mentor"), code="not_a_mentor", username=mentor.username
        )
    if learner.role != "learner":
        raise ValidationError(
            N_("%(username)s is not a learner"), code="not_a_learner", username=learner.username
        )
    if by.role not in ("admin", "instructor") or not can_see_learner(by, learner.id):
        raise PermissionDenied(
            N_("Only admins and the learner's instructors assign mentors"), code="forbidden"
        )
