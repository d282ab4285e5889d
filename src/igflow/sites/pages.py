"""Administration pages of the sites capability: the organisation's sites and their chairs."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from igflow.errors import InvalidInput
from igflow.security.deps import get_session, require
from igflow.security.permissions import Perm
from igflow.security.principal import Principal
from igflow.sites import service as sites_service
from igflow.sites.schemas import ChairIn
from igflow.web.forms import form_action
from igflow.web.render import render

router = APIRouter(include_in_schema=False)


def _sites_page(request: Request, session: Session, error: str | None, status_code: int = 200) -> Response:
    sites = sites_service.list_sites(session)
    return render(request, "admin/sites.html", {"sites": sites, "error": error}, status_code=status_code)


@router.get("/admin/sites", response_class=HTMLResponse)
def sites_page(
    request: Request, principal: Principal = require(Perm.SITE_READ), session: Session = Depends(get_session)
) -> Response:
    return _sites_page(request, session, None)


@router.post("/admin/sites/{site_id}/chairs", response_class=HTMLResponse)
async def sites_add_chair(
    request: Request,
    site_id: int,
    principal: Principal = require(Perm.SITE_MANAGE),
    session: Session = Depends(get_session),
) -> Response:
    form = await request.form()
    fields = {"label": form.get("label", ""), "kind": form.get("kind", "recliner")}
    return await form_action(
        session,
        lambda: sites_service.add_chair(session, principal.actor, site_id, ChairIn.model_validate(fields)),
        "/admin/sites",
        lambda failure: _sites_page(request, session, failure.message, 422),
    )


@router.post("/admin/sites/{site_id}/chairs/{chair_id}/active")
async def sites_toggle_chair(
    request: Request,
    site_id: int,
    chair_id: int,
    principal: Principal = require(Perm.SITE_MANAGE),
    session: Session = Depends(get_session),
) -> Response:
    form = await request.form()
    site = sites_service.get_site(session, site_id)
    chair = next((c for c in site.chairs if c.id == chair_id), None)
    if chair is None:
        raise InvalidInput(f"chair {chair_id} is not at this site", "chair_id")
    data = ChairIn(label=chair.label, kind=chair.kind, active=form.get("active") == "true")  # type: ignore[arg-type]
    await run_in_threadpool(sites_service.update_chair, session, principal.actor, site_id, chair_id, data)
    return RedirectResponse("/admin/sites", status_code=303)
