"""SMART ``system/`` scopes (pure): which ones this read-only server grants, and what each covers.

Accepted forms (SMART App Launch 2.x, section "Scopes for requesting clinical data"):

- v1: ``system/Patient.read`` (read and search), ``system/*.read`` (every type).
- v2: ``system/Patient.rs`` (read and search), ``system/Patient.r`` (read only), ``system/Patient.s``
  (search only), and the same with ``*``.

Writes, on the types igflow lets an outside system write (:data:`WRITES`: Patient update, Observation
create): v1 ``system/Patient.write`` and ``system/*.write`` (create and update of those types),
``system/Patient.*`` (read, search and write), and the v2 letters ``c`` (create) and ``u`` (update), in the
order ``cruds`` (``system/Observation.crs``).

Refused, with a reason: ``user/`` and ``patient/`` scopes (no user or patient launch here), deletes
(``d``), a write letter or ``.write`` on a type igflow does not let an outside system write
(``system/Appointment.write``), v2 query suffixes (``?category=...``), resource types the server does not
serve, and anything else.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

READ = "read"
SEARCH = "search"
CREATE = "create"
UPDATE = "update"
#: The writes an outside system may make, by type (everything else is read-only over FHIR).
WRITES: dict[str, frozenset[str]] = {"Patient": frozenset({UPDATE}), "Observation": frozenset({CREATE})}
_WRITE = frozenset({CREATE, UPDATE})

_SCOPE = re.compile(
    r"^(?P<context>[a-z]+)/(?P<type>\*|[A-Z][A-Za-z]{0,63})\.(?P<perm>[A-Za-z*]+)(?P<query>\?.*)?$"
)
_V2_LETTERS = {"c": CREATE, "r": READ, "u": UPDATE, "s": SEARCH}
_V2_ORDER = "cruds"


class ScopeError(ValueError):
    """A scope this server does not grant; the message says why, in words."""


@dataclass(frozen=True)
class Scope:
    text: str
    resource_type: str  # a FHIR type name, or "*"
    interactions: frozenset[str]  # READ, SEARCH, CREATE, UPDATE

    def covers(self, resource_type: str, interaction: str) -> bool:
        return self.resource_type in ("*", resource_type) and interaction in self.interactions

    def within(self, other: Scope) -> bool:
        """Everything this scope allows, ``other`` allows too."""
        return other.resource_type in ("*", self.resource_type) and self.interactions <= other.interactions


def parse(text: str, known_types: Iterable[str]) -> Scope:
    """One scope, or :class:`ScopeError` naming what is wrong with it."""
    shown = text if len(text) <= 80 else text[:77] + "..."
    found = _SCOPE.match(text)
    if found is None:
        raise ScopeError(f"'{shown}' is not a SMART scope (write it like system/Patient.read or system/*.rs)")
    context, resource_type, perm = found.group("context"), found.group("type"), found.group("perm")
    if context != "system":
        raise ScopeError(
            f"'{shown}': only system/ scopes are granted (backend services; no user or patient launch)"
        )
    if found.group("query"):
        raise ScopeError(f"'{shown}': scopes with a query (?...) are not supported")
    if resource_type != "*" and resource_type not in set(known_types):
        raise ScopeError(f"'{shown}': {resource_type} is not a resource type this server serves")
    if perm == READ:
        return Scope(text, resource_type, frozenset({READ, SEARCH}))
    if perm in ("write", "*"):
        _check_writable(shown, resource_type, _WRITE)
        reads = frozenset({READ, SEARCH}) if perm == "*" else frozenset()
        return Scope(text, resource_type, reads | _WRITE)
    if "d" in perm:
        raise ScopeError(f"'{shown}': nothing is deleted through this FHIR server; leave out d")
    if (
        not perm
        or any(c not in _V2_LETTERS for c in perm)
        or "".join(sorted(perm, key=_V2_ORDER.index)) != perm
    ):
        raise ScopeError(
            f"'{shown}': the permission must be read, write, * or letters of cruds in that order"
        )
    interactions = frozenset(_V2_LETTERS[c] for c in perm)
    _check_writable(shown, resource_type, interactions & _WRITE, every=True)
    return Scope(text, resource_type, interactions)


def _check_writable(shown: str, resource_type: str, wanted: frozenset[str], every: bool = False) -> None:
    """A write on a type that allows it (v1 .write: any of its writes; v2 letters: each one asked)."""
    if not wanted or resource_type == "*":
        return
    allowed = WRITES.get(resource_type, frozenset())
    if (wanted - allowed) if every else not (wanted & allowed):
        offered = "; ".join(f"{t}: {', '.join(sorted(w))}" for t, w in sorted(WRITES.items()))
        raise ScopeError(
            f"'{shown}': {resource_type} is read-only through this FHIR server (writes: {offered}); "
            "ask for .read or .rs"
        )


def parse_all(texts: Iterable[str], known_types: Iterable[str]) -> list[Scope]:
    """Several scopes (duplicates dropped, order kept); the first bad one raises :class:`ScopeError`."""
    known = list(known_types)
    out: list[Scope] = []
    for text in texts:
        if text and text not in {s.text for s in out}:
            out.append(parse(text, known))
    return out


def split(value: str) -> list[str]:
    """A space-separated ``scope`` parameter (OAuth 2.0) as a list."""
    return [part for part in value.split() if part]


def not_within(requested: Iterable[Scope], allowed: Iterable[Scope]) -> list[Scope]:
    """The requested scopes that no allowed scope covers."""
    allowed = list(allowed)
    return [r for r in requested if not any(r.within(a) for a in allowed)]


def covers(granted: Iterable[Scope], resource_type: str, interaction: str) -> bool:
    return any(s.covers(resource_type, interaction) for s in granted)


def letters(interactions: Iterable[str]) -> str:
    """The v2 letters of some interactions, in the order cruds."""
    wanted = set(interactions)
    return "".join(c for c in _V2_ORDER if _V2_LETTERS.get(c) in wanted)


def needed(resource_type: str, interaction: str) -> str:
    """The narrowest v2 scope that allows the interaction, to name in a refusal."""
    return f"system/{resource_type}.{letters([interaction])}"
