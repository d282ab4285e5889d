"""Who is asking: the signed-in user (or service account) with the permissions their roles grant."""

from __future__ import annotations

from dataclasses import dataclass, field

from igflow.security.audit import Actor
from igflow.security.permissions import Perm, Role, permissions_for


def client_actor_name(username: str, client_id: str) -> str:
    """The audit log's actor for a backend client acting as a service account: ``svc via igfc-...``."""
    via = f" via {client_id}"
    return username[: max(0, 64 - len(via))] + via[:64]


@dataclass(frozen=True)
class Principal:
    user_id: int
    username: str
    display_name: str
    roles: frozenset[Role]
    site_ids: frozenset[int] | None  # None: not limited to any sites
    patient_id: int | None = None
    client_address: str | None = None
    via_token: bool = False
    csrf_token: str | None = None
    permissions: frozenset[Perm] = field(default=frozenset())
    # A SMART Backend Services access token: the registered client's id and the scopes granted (which
    # narrow the service account's roles on /fhir/R4; such a token serves nothing else). None otherwise.
    client_id: str | None = None
    scopes: frozenset[str] | None = None

    @classmethod
    def build(
        cls,
        *,
        user_id: int,
        username: str,
        display_name: str,
        roles: frozenset[Role],
        site_ids: frozenset[int] | None,
        patient_id: int | None,
        client_address: str | None,
        via_token: bool = False,
        csrf_token: str | None = None,
        client_id: str | None = None,
        scopes: frozenset[str] | None = None,
    ) -> Principal:
        return cls(
            user_id=user_id,
            username=username,
            display_name=display_name,
            roles=roles,
            site_ids=site_ids,
            patient_id=patient_id,
            client_address=client_address,
            via_token=via_token,
            csrf_token=csrf_token,
            permissions=permissions_for(roles),
            client_id=client_id,
            scopes=scopes,
        )

    def can(self, perm: Perm) -> bool:
        return perm in self.permissions

    @property
    def actor(self) -> Actor:
        """Who the audit log names: the account, and for a SMART token the client acting as it."""
        if self.client_id is not None:
            return Actor(self.user_id, client_actor_name(self.username, self.client_id), self.client_address)
        return Actor(self.user_id, self.username, self.client_address)

    def may_see_sites(self, patient_site_ids: set[int]) -> bool:
        """A site-limited user sees a patient only if they share a site.

        A patient with no site at all is seen only by users who are not limited to sites.
        """
        if self.site_ids is None:
            return True
        return bool(self.site_ids & patient_site_ids)
