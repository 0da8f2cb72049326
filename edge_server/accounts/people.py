"""Accounts and their cohorts in bulk, as the sync agent sends them (never password hashes)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from .models import Cohort, CohortMember, User

# uid, username, display_name, role
Person = tuple[str, str, str, str]


def people(user_ids: Iterable[int]) -> dict[int, Person]:
    """Return the accounts ``user_ids`` by id, in id order (one query)."""
    query: Any = (
        User.select(User.id, User.uid, User.username, User.display_name, User.role)
        .where(User.id.in_(sorted(set(user_ids))))
        .order_by(User.id)
        .tuples()
    )
    return {user_id: (uid, username, name, role) for user_id, uid, username, name, role in query}


def cohorts_of(user_ids: Iterable[int]) -> list[tuple[str, str, list[str]]]:
    """Return (uid, name, member uids) of every cohort that any of ``user_ids`` learns in,
    in id order, with all its members (two queries)."""
    ids = sorted(set(user_ids))
    rows: Any = (
        Cohort.select(Cohort.id, Cohort.uid, Cohort.name)
        .where(
            Cohort.id.in_(
                CohortMember.select(CohortMember.cohort).where(CohortMember.user.in_(ids))
            )
        )
        .order_by(Cohort.id)
        .tuples()
    )
    found: dict[int, tuple[str, str, list[str]]] = {
        cohort_id: (uid, name, []) for cohort_id, uid, name in rows
    }
    if found:
        members: Any = (
            CohortMember.select(CohortMember.cohort, User.uid)
            .join(User)
            .where(CohortMember.cohort.in_(list(found)))
            .order_by(CohortMember.id)
            .tuples()
        )
        for cohort_id, member_uid in members:
            found[cohort_id][2].append(member_uid)
    return list(found.values())
