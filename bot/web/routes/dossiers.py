"""The dossier routes: PUT /dossiers/{code} (create or update), GET it back, POST its lifecycle events."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import quote
from zoneinfo import ZoneInfo

from aiohttp import web

from bot.app import App
from bot.web.idempotency import write_transaction
from bot.web.linking import link_url, receipt_text, telegram_url
from bot.web.openapi import Answer, Operation
from bot.web.routes.apologies import apology_out
from bot.web.routes.common import (
    CODE_PARAMETER,
    PREFIX,
    READ_REPORTS,
    WRITE,
    ApiError,
    authorize,
    dossier_of_key,
    existing_code,
    json_answer,
    local,
    not_found,
    read_object,
    validate,
    zone_of,
)
from bot.web.routes.dossier_models import (
    ContactBody,
    DossierBody,
    DossierDetailOut,
    DossierOut,
    EventBody,
    EventOut,
    FormRef,
    OptinOut,
    SurveyOut,
    TimelineEntry,
    UpsertOut,
)
from bot.web.server import APP
from handlers.citizen.linking import LinkCodes
from handlers.errors import InvalidInput
from handlers.intake.dossiers import (
    EVENT_TYPES,
    SUBMISSION_CHANNELS,
    ContactInput,
    DossierInput,
    DossierView,
    local_moment,
)
from handlers.messages import nfc
from storage.uow import UnitOfWork
from storage.values import ApiKey, Dossier


async def _check_upsert(uow: UnitOfWork, key: ApiKey, code: str, unit_code: str) -> None:
    """A PUT stays inside the key's units.

    Another unit's dossier is 404, a new one of another unit 403, and a dossier never changes unit through
    the API (422 ``unit_change_refused``), whatever the key.
    """
    existing = await uow.dossiers.get_by_code(nfc(code).strip())
    if existing is not None and not key.covers(existing.unit_id):
        raise not_found(code)
    unit = await uow.units.get_by_code(unit_code)
    if unit is None:
        raise InvalidInput(f"unknown unit {unit_code!r}", code="unknown_unit")
    if existing is not None and existing.unit_id != unit.id:
        held = await uow.units.get(existing.unit_id)
        raise ApiError(
            422,
            "unit_change_refused",
            f"unit: dossier {existing.code!r} belongs to {held.code}; a dossier never changes unit through the API",
        )
    if existing is None and not key.covers(unit.id):
        raise ApiError(403, "forbidden", f"unit: this key does not cover unit {unit.code!r}")


def dossier_fields(dossier: Dossier, unit_code: str, zone: ZoneInfo) -> dict[str, Any]:
    """The fields every answer about a dossier has, times in local time."""
    return {
        "code": dossier.code,
        "unit": unit_code,
        "procedure": dossier.procedure_name,
        "procedure_code": dossier.procedure_code,
        "field": dossier.field,
        "channel": dossier.channel,
        "state": dossier.state,
        "received_at": dossier.received_at.astimezone(zone),
        "due_at": dossier.due_at.astimezone(zone),
        "finished_at": local(dossier.finished_at, zone),
        "returned_at": local(dossier.returned_at, zone),
        "cancelled_at": local(dossier.cancelled_at, zone),
        "on_time": dossier.on_time,
        "zalo_optin": dossier.zalo_optin,
    }


def optin_links(app: App, token: str, code: str) -> OptinOut:
    """The opt-in links of a dossier's token, its printed code and the receipt's lines."""
    return OptinOut(
        token=token,
        telegram_url=telegram_url(app, token),
        zalo_url=app.settings.zalo_oa_link,
        link_url=link_url(app, token),
        code=code,
        receipt_text=receipt_text(app, token, code),
        qr_url=f"{app.settings.public_url.rstrip('/')}/qr/{token}.png",
    )


def _dossier_input(code: str, body: DossierBody, zone: ZoneInfo) -> DossierInput:
    def contact(person: ContactBody) -> ContactInput:
        return ContactInput(
            name=person.name, phone=person.phone, email=person.email, zalo_user_id=person.zalo_user_id, kind=person.kind
        )

    return DossierInput(
        code=code,
        unit=body.unit,
        procedure=body.procedure,
        procedure_code=body.procedure_code,
        field=body.field,
        applicant=contact(body.applicant),
        representative=contact(body.representative) if body.representative else None,
        received_at=local_moment(body.received_at, zone),
        due_at=local_moment(body.due_at, zone, end_of_day=True) if body.due_at is not None else None,
        channel=body.channel,
        handler=body.handler,
        receiver=body.receiver,
        zalo_optin=body.zalo_optin,
        processing_days=body.processing_days,
    )


async def upsert(app: App, uow: UnitOfWork, key: ApiKey, code: str, body: DossierBody) -> tuple[int, dict[str, Any]]:
    """Create or update a dossier of the key's units inside ``uow``; the status and body of the answer."""
    zone = zone_of(app)
    await _check_upsert(uow, key, code, body.unit)
    result = await app.dossiers.upsert_in(uow, _dossier_input(code, body, zone))
    printed = await LinkCodes(app.services).printed_in(uow, result.dossier)
    answer = UpsertOut(
        dossier=DossierOut(**dossier_fields(result.dossier, body.unit, zone)),
        optin=optin_links(app, result.dossier.optin_token, printed),
    )
    return (201 if result.created else 200), answer.model_dump(mode="json")


async def record_event(
    app: App, uow: UnitOfWork, key: ApiKey, code: str, body: EventBody
) -> tuple[int, dict[str, Any]]:
    """Apply an event to a dossier of the key's units inside ``uow``; the status and body of the answer."""
    await dossier_of_key(uow, key, code)
    zone = zone_of(app)
    result = await app.dossiers.add_event_in(uow, code, body.type, local_moment(body.at, zone), body.note)
    unit = await uow.units.get(result.dossier.unit_id)
    answer = EventOut(dossier=DossierOut(**dossier_fields(result.dossier, unit.code, zone)), changed=result.changed)
    return 202, answer.model_dump(mode="json")


def dossier_location(answer: Mapping[str, Any]) -> str:
    """The URL of the dossier an upsert created (its answer's Location, also when replayed)."""
    return f"{PREFIX}/dossiers/{quote(answer['dossier']['code'], safe='')}"


async def put_dossier(request: web.Request) -> web.Response:
    """PUT /dossiers/{code}: create (201) or update (200) a dossier."""
    key = await authorize(request, (WRITE,))
    code = request.match_info["code"]
    body = validate(DossierBody, await read_object(request))
    async with write_transaction(request) as uow:
        status, answer = await upsert(request.app[APP], uow, key, code, body)
    return json_answer(answer, status, {"Location": dossier_location(answer)} if status == 201 else None)


async def post_event(request: web.Request) -> web.Response:
    """POST /dossiers/{code}/events: apply a lifecycle event (202)."""
    key = await authorize(request, (WRITE,))
    code = existing_code(request)
    body = validate(EventBody, await read_object(request))
    async with write_transaction(request) as uow:
        status, answer = await record_event(request.app[APP], uow, key, code, body)
    return json_answer(answer, status)


async def get_dossier(request: web.Request) -> web.Response:
    """GET /dossiers/{code}: state, timeline, due dates, survey status and apology."""
    key = await authorize(request, (WRITE, READ_REPORTS))
    app = request.app[APP]
    code = existing_code(request)
    view = await app.dossiers.view(code)
    if not key.covers(view.dossier.unit_id):
        raise not_found(code)
    return json_answer(dossier_detail(view, zone_of(app)).model_dump(mode="json"))


def dossier_detail(view: DossierView, zone: ZoneInfo) -> DossierDetailOut:
    """The answer of GET /dossiers/{code}."""
    invitation, apology = view.invitation, view.apology
    survey = None
    if invitation is not None:
        survey = SurveyOut(
            status=invitation.status,
            form=FormRef(id=invitation.form_id, version=invitation.form_version),
            channel=invitation.channel,
            scheduled_at=invitation.scheduled_at.astimezone(zone),
            expires_at=invitation.expires_at.astimezone(zone),
            sent_at=local(invitation.sent_at, zone),
            delivered_at=local(invitation.delivered_at, zone),
            started_at=local(invitation.started_at, zone),
            completed_at=local(invitation.completed_at, zone),
            closed_at=local(invitation.closed_at, zone),
        )
    return DossierDetailOut(
        **dossier_fields(view.dossier, view.unit_code, zone),
        new_due_at=local(view.new_due_at, zone),
        handler=view.dossier.handler,
        receiver=view.dossier.receiver,
        timeline=[TimelineEntry(type=e.type, at=e.at.astimezone(zone), note=e.note) for e in view.events],
        survey=survey,
        apology=apology_out(apology, zone) if apology is not None else None,
        error_apology=apology_out(view.error_apology, zone) if view.error_apology is not None else None,
    )


OPERATIONS: tuple[Operation, ...] = (
    Operation(
        "PUT",
        f"{PREFIX}/dossiers/{{code}}",
        put_dossier,
        "putDossier",
        "Create or update a dossier",
        "Sending the same dossier again changes nothing and gives the same opt-in token. "
        f"Submission channels: {', '.join(SUBMISSION_CHANNELS)}. Text is stored in Unicode NFC. "
        "A key creates dossiers only in its units (403 otherwise); a dossier of a unit it does not cover is 404; "
        "a dossier never changes unit through the API, whatever the key (422 `unit_change_refused`). "
        "`received_at` may not be in the future (422).",
        scopes=(WRITE,),
        body=DossierBody,
        location=dossier_location,
        parameters=(CODE_PARAMETER,),
        answers={
            200: Answer("The dossier was updated.", UpsertOut),
            201: Answer("The dossier was created.", UpsertOut, headers={"Location": "The dossier's URL."}),
        },
        errors=(404,),
    ),
    Operation(
        "GET",
        f"{PREFIX}/dossiers/{{code}}",
        get_dossier,
        "getDossier",
        "Read a dossier back",
        "State, timeline, due and new due dates, survey status and apology. A key with `dossiers:write` "
        "(the system that sends the dossier) or `reports:read` may read it; no contact data is returned.",
        scopes=(WRITE, READ_REPORTS),
        parameters=(CODE_PARAMETER,),
        answers={200: Answer("The dossier.", DossierDetailOut)},
        errors=(404,),
    ),
    Operation(
        "POST",
        f"{PREFIX}/dossiers/{{code}}/events",
        post_event,
        "postDossierEvent",
        "Apply a lifecycle event",
        f"Event types: {', '.join(EVENT_TYPES)}. The same (type, at) again changes nothing (`changed: false`). "
        "With an `Idempotency-Key`, the first successful answer is stored with the event and replayed "
        "for the same key and request; the same key with a different request is refused "
        "(422 `idempotency_key_reused`). Refusals are not stored.",
        scopes=(WRITE,),
        body=EventBody,
        parameters=(CODE_PARAMETER,),
        answers={202: Answer("The event was applied (or had been before).", EventOut)},
        errors=(404, 409),
    ),
)
