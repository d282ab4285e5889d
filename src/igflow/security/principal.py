"""Who is asking: the signed-in user (or service account) with the permissions their roles grant."""

from __future__ import annotations

from dataclasses import dataclass, field

from igflow.security.audit import Actor
from igflow.security.permissions import Perm, Role, permissions_for


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
        )

    def can(self, perm: Perm) -> bool:
        return perm in self.permissions

    @property
    def actor(self) -> Actor:
        return Actor(self.user_id, self.username, self.client_address)

    def may_see_sites(self, patient_site_ids: set[int]) -> bool:
        """A site-limited user sees a patient only if they share a site.

        A patient with no site at all is seen only by users who are not limited to sites.
        """
        if self.site_ids is None:
            return True
        return bool(self.site_ids & patient_site_ids)
