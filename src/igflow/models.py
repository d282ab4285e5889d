"""Imports every capability's tables so that ``Base.metadata`` is complete (for Alembic and tests)."""

from igflow.appointments import models as appointments_models
from igflow.authorizations import models as authorizations_models
from igflow.costs import models as costs_models
from igflow.db import Base
from igflow.directory import models as directory_models
from igflow.fhir.bulk import models as fhir_bulk_models
from igflow.fhir.smart import models as fhir_smart_models
from igflow.home import models as home_models
from igflow.imports import models as imports_models
from igflow.infusions import models as infusions_models
from igflow.inventory import models as inventory_models
from igflow.jobs import models as jobs_models
from igflow.messages import models as messages_models
from igflow.orders import models as orders_models
from igflow.outcomes import models as outcomes_models
from igflow.patients import models as patients_models
from igflow.portal import models as portal_models
from igflow.protocols import models as protocols_models
from igflow.referrals import models as referrals_models
from igflow.security import models as security_models
from igflow.security import server_keys as server_keys_models
from igflow.sites import models as sites_models

__all__ = [
    "Base",
    "appointments_models",
    "authorizations_models",
    "costs_models",
    "directory_models",
    "fhir_bulk_models",
    "fhir_smart_models",
    "home_models",
    "imports_models",
    "infusions_models",
    "inventory_models",
    "jobs_models",
    "messages_models",
    "orders_models",
    "outcomes_models",
    "patients_models",
    "portal_models",
    "protocols_models",
    "referrals_models",
    "security_models",
    "server_keys_models",
    "sites_models",
]
