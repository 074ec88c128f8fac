"""The handover bundle behind a signed download link: ``GET /bundles/{plan}/{token}.zip``.

The link goes out in the handover message when the bundle is too large to
attach (and on chat channels, which carry no attachment). Its token is signed
(purpose ``bundle``), names the plan and the digest of the bundle it was made
for, and expires after ``worker.handover.LINK_DAYS``. A forged, altered or
expired link is refused with the reason (403), like the check-in links; a link
to a bundle that is not (or no longer) kept here is a plain 404. Once the plan's
personal data was erased (``pactkeeper purge``), the copy is gone for good and the
link says so: 410, the bundle has expired, the partner already holds it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from fastapi import APIRouter, Request
from fastapi.responses import Response

from web.access import engine_of, field, verify
from web.pages import Refused, language, refusal
from worker import clock
from worker.handover.close import bundle_path
from worker.links import digest
from worker.privacy.keeping import purged

if TYPE_CHECKING:
    from worker.engine import Engine
    from worker.tokens import Grant

router = APIRouter()

HEADERS = {
    "Cache-Control": "private, no-store",
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
    "X-Robots-Tag": "noindex, nofollow",
}


@router.get("/bundles/{plan_id}/{token}.zip", include_in_schema=False)
def bundle(plan_id: str, token: str, request: Request) -> Response:
    """The handover bundle (a BagIt zip) of a closed plan."""
    engine = engine_of(request)
    lang = language(request.headers.get("accept-language"))
    try:
        grant = _grant(engine, plan_id, token)
        if field(grant, "p") != plan_id:
            raise Refused(403, "invalid")
        if purged(engine, plan_id) is not None:
            raise Refused(410, "bundle_expired")
        try:
            data = bundle_path(engine.settings, plan_id).read_bytes()
        except OSError:
            raise Refused(404, "not_found") from None
        if digest(data) != field(grant, "d"):
            raise Refused(404, "not_found")
    except Refused as error:
        return refusal(error, lang)
    headers = {**HEADERS, "Content-Disposition": f'attachment; filename="{plan_id}-handover.zip"'}
    return Response(data, media_type="application/zip", headers=headers)


def _grant(engine: Engine, plan_id: str, token: str) -> Grant:
    """The link's grant; a link whose time is up on a purged plan says the bundle expired
    (a purge comes long after the link's 30 days)."""
    try:
        return verify(engine, token, "bundle", clock.now())
    except Refused as error:
        if error.code == "expired" and purged(engine, plan_id) is not None:
            raise Refused(410, "bundle_expired") from None
        raise
