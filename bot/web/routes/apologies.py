"""POST /dossiers/{code}/apology: an apology for a delay (with a new appointment) or for an error in handling."""

from __future__ import annotations

from datetime import datetime
from typing import Literal
from zoneinfo import ZoneInfo

from aiohttp import web
from pydantic import BaseModel, Field

from bot.web.idempotency import write_transaction
from bot.web.openapi import Answer, Operation
from bot.web.routes.body_types import Body, Moment, Text
from bot.web.routes.common import (
    CODE_PARAMETER,
    PREFIX,
    WRITE_APOLOGIES,
    authorize,
    dossier_of_key,
    existing_code,
    json_answer,
    local,
    read_object,
    validate,
    zone_of,
)
from bot.web.server import APP
from bot.web.wording import term
from storage.values import Apology


class ApologyBody(Body):
    """An apology (docs/METHOD.md): for a delay (at most one per dossier) or for an error in handling (one more)."""

    kind: Literal["delay", "error"] = Field(
        default="delay",
        description=f"`delay`: the dossier will run late (a new date is required); `error`: an error ({term('error')}) "
        "was made in handling a resolved or returned dossier (no new date).",
    )
    reason: Text = Field(
        min_length=1, max_length=500, description="Why the dossier is late, or the error made (printed on the slip)."
    )
    new_due_at: Moment | None = Field(
        default=None,
        description="For a delay: the new appointment, a working day after today and after the original due date "
        "(a date-time counts by its local date). Not given for an error apology.",
    )
    issued_by: Text = Field(
        min_length=1,
        max_length=100,
        description="The officer issuing it. The key's name is kept beside it (`issued_key`): both are shown.",
    )


class ApologyOut(BaseModel):
    """An apology of the dossier: for a delay (phiếu xin lỗi và hẹn lại ngày trả kết quả) or for an error."""

    kind: Literal["delay", "error"]
    number: str | None
    reason: str
    new_due_at: datetime | None = Field(description="The new appointment of a delay apology; null for an error.")
    issued_by: str = Field(description="The officer named as issuing it.")
    issued_key: str | None = Field(
        default=None, description="The name of the API key that issued it; null when an officer issued it in chat."
    )
    issued_at: datetime
    in_time: bool | None = Field(
        description="A delay apology: true when issued no later than the working day before the due date "
        "(docs/METHOD.md), false when late (still issued, reported as a late apology); null for an error apology."
    )


class ApologyIssuedOut(BaseModel):
    """The apology as issued: its number, the new date, and where the citizen was sent it."""

    dossier: str
    apology: ApologyOut
    slip_url: str = Field(description="The printable slip (PDF), under an unguessable address.")
    sent_on: list[str] = Field(description="The channels the citizen was sent it on (empty: print and hand it over).")


async def post_apology(request: web.Request) -> web.Response:
    """POST /dossiers/{code}/apology: the dossier's one apology (201); 409 when it has one."""
    key = await authorize(request, (WRITE_APOLOGIES,))
    code = existing_code(request)
    body = validate(ApologyBody, await read_object(request))
    app = request.app[APP]
    services = app.services
    zone = zone_of(app)
    new_due = body.new_due_at.astimezone(zone).date() if isinstance(body.new_due_at, datetime) else body.new_due_at
    now = services.clock()
    async with write_transaction(request) as uow:
        dossier = await dossier_of_key(uow, key, code)
        issued = await app.apologies.issue(
            uow,
            dossier,
            body.reason,
            new_due,
            body.issued_by,
            now,
            body.kind,
            actor=f"apikey:{key.name}",
            issued_key=key.name,
        )
    apology = issued.apology
    answer = ApologyIssuedOut(
        dossier=dossier.code,
        apology=apology_out(apology, zone),
        slip_url=f"{app.settings.public_url.rstrip('/')}/phieu/{apology.token}.pdf",
        sent_on=list(issued.channels),
    )
    return json_answer(answer.model_dump(mode="json"), 201)


def apology_out(apology: Apology, zone: ZoneInfo) -> ApologyOut:
    """An apology as the API shows it."""
    return ApologyOut(
        kind="error" if apology.kind == "error" else "delay",
        number=apology.number,
        reason=apology.reason,
        new_due_at=local(apology.new_due_at, zone),
        issued_by=apology.issued_by,
        issued_key=apology.issued_key,
        issued_at=apology.issued_at.astimezone(zone),
        in_time=apology.in_time,
    )


OPERATION = Operation(
    "POST",
    f"{PREFIX}/dossiers/{{code}}/apology",
    post_apology,
    "postDossierApology",
    "Issue an apology for the dossier",
    f"`kind: delay` (the default): the apology and new appointment ({term('apology_slip')}) "
    "for a dossier that will run late. It is in time when issued no later than the working day before the due "
    "date; a later one is still issued and sent, with `in_time: false`, and reported as a late apology "
    f"(`apologies_late`). `kind: error`: an apology for an error ({term('error')}) made in handling a resolved or "
    "returned dossier, with no new date (`in_time: null`). Both are numbered `01/PXL` per unit and year "
    "(`SIPAS_APOLOGY_NUMBER_SYMBOL`) and "
    "sent to the citizen on every linked chat (a delay apology also by ZNS where configured) with the "
    "printable slip. A dossier gets at most one of each kind: a second is 409 `apology_exists`; a delay "
    "apology for a resolved dossier, or an error apology for one not resolved, is 409 `invalid_transition`; "
    "a delay apology without a new date, or with one that is not a working day after today and after the "
    "due date, and an error apology with a new date, are 422.",
    scopes=(WRITE_APOLOGIES,),
    body=ApologyBody,
    parameters=(CODE_PARAMETER,),
    answers={201: Answer("The apology was issued.", ApologyIssuedOut)},
    errors=(404, 409, 422),
)
