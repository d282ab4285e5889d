"""The staff Mailbox page: every message in the outbox with its attempts; in the demo (mail mode
'mailbox') this is where the messages are read, since none leaves the machine."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy import select
from sqlalchemy.orm import Session

from igflow.errors import Conflict
from igflow.messages.models import OutboundMessage
from igflow.patients import service as patients_service
from igflow.security import audit, scope
from igflow.security.deps import get_session, require
from igflow.security.permissions import Perm
from igflow.security.principal import Principal
from igflow.web.render import render

router = APIRouter(include_in_schema=False)

STATUS_WORDS = {
    "queued": "waiting to be sent",
    "sending": "being sent",
    "sent": "sent",
    "failed": "failed",
    "unknown": "may have been sent (interrupted): check before sending again",
    "cancelled": "not sent",
}


@router.get("/mailbox", response_class=HTMLResponse)
def mailbox_page(
    request: Request,
    principal: Principal = require(Perm.SCHEDULE_READ),
    session: Session = Depends(get_session),
) -> Response:
    query = scope.rows(
        select(OutboundMessage).order_by(OutboundMessage.id.desc()).limit(200), principal, OutboundMessage
    )
    messages = list(session.execute(query).scalars())
    names = patients_service.display_names(session, [m.patient_id for m in messages if m.patient_id])
    audit.record(
        session, principal.actor, "message.list", "outbound_message", None, detail={"shown": len(messages)}
    )
    session.commit()
    mode = request.app.state.settings.mail_mode
    return render(
        request,
        "messages/mailbox.html",
        {"messages": messages, "names": names, "words": STATUS_WORDS, "mode": mode},
    )


def _message(session: Session, principal: Principal, message_id: int) -> OutboundMessage:
    return scope.get(session, principal, OutboundMessage, message_id, "message")


@router.post("/mailbox/{message_id}/resend")
def mailbox_resend(
    message_id: int,
    principal: Principal = require(Perm.SCHEDULE_WRITE),
    session: Session = Depends(get_session),
) -> Response:
    """Queue again a message that failed or may not have gone (a person checked with the patient)."""
    m = _message(session, principal, message_id)
    if m.status not in ("failed", "unknown"):
        raise Conflict(
            f"message {m.id} is {STATUS_WORDS[m.status]}: only a failed or interrupted one is sent again"
        )
    m.status, m.attempts, m.last_error = "queued", 0, ""
    audit.record(
        session, principal.actor, "message.resend", "outbound_message", m.id, patient_id=m.patient_id
    )
    session.commit()
    return RedirectResponse("/mailbox", status_code=303)
