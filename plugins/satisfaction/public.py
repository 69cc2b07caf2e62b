"""The public answer link: the one write in Guanxi that needs no API key.

``GET  /satisfaction/s/{tenant}/{token}``       the survey as JSON
``GET  /satisfaction/s/{tenant}/{token}/form``  a minimal HTML form (no script, no external assets)
``POST /satisfaction/s/{tenant}/{token}``       the answers: JSON ``{"answers": {code: value}, "survey": code?}``
                                                or the form's fields (``application/x-www-form-urlencoded``)

The token is only good in its tenant, for its one survey and customer, once,
before it expires. Refusals are 4xx JSON errors (``errors[0].extensions.code``):
TOKEN_UNKNOWN 404, TOKEN_WRONG_TENANT 403, TOKEN_USED 409, TOKEN_WRONG_SURVEY 409,
TOKEN_EXPIRED 410, BAD_USER_INPUT 422 (one error per question at fault,
``extensions.field`` = ``answers.<question code>``), RATE_LIMITED 429 (per
address through the app's anonymous limit, and per token).
"""

from __future__ import annotations

import html
import logging
import threading
import time
from typing import Any
from urllib.parse import parse_qsl

from sqlalchemy import select
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Route

from api.endpoint import UNAVAILABLE_ERRORS, database_unavailable, error_response, rate_limited
from api.rate_limits import Decision
from api.threads import run_db
from engine.errors import GuanxiError, NotFound, ValidationFailed
from plugins.satisfaction.answers import TokenRefused, answer_by_token, open_invitation
from plugins.satisfaction.models import SatisfactionInvitation
from plugins.satisfaction.surveys import get_survey
from plugins.satisfaction.templates import RECOMMEND_LABELS, REPURCHASE_LABELS, SCALE_LABELS
from plugins.satisfaction.tokens import looks_like_token, token_hash

log = logging.getLogger(__name__)

TOKEN_LIMIT = 10  # requests per token per minute: enough to open, fix a mistake and send
MAX_BODY = 64 * 1024


class TokenCounter:
    """Requests per token in the current minute (per process, like the anonymous counter)."""

    def __init__(self, limit: int, clock=time.time):
        self.limit, self.clock = limit, clock
        self._lock = threading.Lock()
        self._minute, self._counts = -1, {}

    def check(self, token: str) -> Decision:
        now = self.clock()
        minute = int(now // 60)
        with self._lock:
            if minute != self._minute:
                self._minute, self._counts = minute, {}
            count = self._counts[token] = self._counts.get(token, 0) + 1
        return Decision(count <= self.limit, self.limit, max(0, self.limit - count), max(1, int((minute + 1) * 60 - now)))


def _refused(error: TokenRefused) -> JSONResponse:
    return error_response(error.errors[0].message, error.code, error.status)


def _invalid(error: ValidationFailed) -> JSONResponse:
    return JSONResponse({"errors": [{"message": f"{e.field}: {e.message}", "extensions": {"code": "BAD_USER_INPUT", "field": e.field}}
                                    for e in error.errors]}, status_code=422)


def _unknown() -> JSONResponse:
    return error_response("this survey link is not valid", "TOKEN_UNKNOWN", 404)


def _question_json(q: dict) -> dict:
    out = {key: q[key] for key in ("code", "kind", "zh", "en", "required")}
    if q["kind"] == "SCALE":
        labels = REPURCHASE_LABELS if q.get("target") == "REPURCHASE" else SCALE_LABELS
        out["choices"] = [{"value": v, "zh": zh, "en": en} for v, (zh, en) in labels.items()]
    elif q["kind"] == "NPS":
        out["choices"] = [{"value": v, "zh": str(v), "en": str(v)} for v in range(11)]
    elif q["kind"] == "RECOMMEND":
        out["choices"] = [{"value": code, "zh": RECOMMEND_LABELS[n][0], "en": RECOMMEND_LABELS[n][1]}
                          for code, n in (("YES", 1), ("NO", 2), ("DONT_KNOW", 3))]
    elif q["kind"] == "CHOICE":
        out["choices"] = [{"value": o["code"], "zh": o["zh"], "en": o["en"]} for o in q["options"]]
        out["multiple"] = q.get("multiple", False)
    return out


def _form_answers(body: bytes) -> dict[str, Any]:
    """The form's ``q_<code>`` fields (parsed here: the app ships without python-multipart)."""
    values: dict[str, list[str]] = {}
    for key, value in parse_qsl(body.decode("utf-8", errors="replace"), keep_blank_values=False):
        if key.startswith("q_"):
            values.setdefault(key[2:], []).append(value)
    return {code: found if len(found) > 1 else found[0] for code, found in values.items()}


def _page(title: str, body: str, status: int = 200) -> HTMLResponse:
    return HTMLResponse(
        "<!doctype html><html lang=\"zh\"><head><meta charset=\"utf-8\">"
        "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
        f"<title>{html.escape(title)}</title><style>body{{font-family:sans-serif;max-width:40em;margin:1em auto;padding:0 1em}}"
        "fieldset{margin:0 0 1em;border:1px solid #ccc}label{display:inline-block;margin:.2em .8em .2em 0}</style>"
        f"</head><body>{body}</body></html>", status_code=status)


def _form_html(survey: dict, action: str) -> str:
    parts = [f"<h1>{html.escape(survey['title_zh'])}</h1><p>{html.escape(survey['title_en'])}</p>",
             f"<form method=\"post\" action=\"{html.escape(action)}\">"]
    for q in survey["questions"]:
        name = f"q_{q['code']}"
        legend = f"{html.escape(q['zh'])}<br><small>{html.escape(q['en'])}</small>{' *' if q['required'] else ''}"
        if q["kind"] == "TEXT":
            field = f"<textarea name=\"{name}\" rows=\"3\" cols=\"40\" maxlength=\"2000\"></textarea>"
        else:
            kind = "checkbox" if q.get("multiple") else "radio"
            field = "".join(f"<label><input type=\"{kind}\" name=\"{name}\" value=\"{html.escape(str(c['value']))}\"> "
                            f"{html.escape(c['zh'])}</label>" for c in q["choices"])
        parts.append(f"<fieldset><legend>{legend}</legend>{field}</fieldset>")
    parts.append("<button type=\"submit\">提交 Submit</button></form>")
    return "".join(parts)


def routes(gx) -> list[Route]:
    per_token = TokenCounter(TOKEN_LIMIT)

    def _in_other_tenant(raw: str) -> bool:
        with gx.system(write=False) as session:
            return session.execute(select(SatisfactionInvitation.id).where(
                SatisfactionInvitation.token_hash == token_hash(raw))).first() is not None

    def _with_tenant(slug: str, raw: str, work, write: bool):
        """work(ctx) in the tenant's transaction; TokenRefused for every way the link is not good there."""
        try:
            tenant_id = gx.tenant_id(slug)
        except NotFound:
            raise TokenRefused("TOKEN_UNKNOWN", "this survey link is not valid", 404) from None
        with gx.tenant(tenant_id, actor="survey-link", write=write) as ctx:
            if "satisfaction" not in ctx.enabled_modules:
                raise TokenRefused("TOKEN_UNKNOWN", "this survey link is not valid", 404)
            try:
                return work(ctx)
            except TokenRefused as refused:
                if refused.code != "TOKEN_UNKNOWN" or not _in_other_tenant(raw):
                    raise
        raise TokenRefused("TOKEN_WRONG_TENANT", "this survey link belongs to another shop's survey", 403)

    def _survey_json(slug: str, raw: str) -> dict:
        def work(ctx):
            invitation = open_invitation(ctx, raw)
            survey = get_survey(ctx, invitation.survey_id)
            return {"survey": survey.code, "title_zh": survey.title_zh, "title_en": survey.title_en,
                    "expires_at": invitation.expires_at.isoformat(),
                    "questions": [_question_json(q) for q in survey.questions]}

        return _with_tenant(slug, raw, work, write=False)

    def _answer(slug: str, raw: str, answers: Any, survey_code: str | None) -> int:
        return _with_tenant(slug, raw, lambda ctx: answer_by_token(ctx, raw, answers, survey_code).id, write=True)

    async def _guard(request: Request) -> Response | None:
        limits = getattr(request.app.state, "rate_limits", None)
        if limits is not None:
            decision = limits.check_anonymous(request.client.host if request.client else "-")
            if decision is not None and not decision.allowed:
                return rate_limited(decision, "this address")
        raw = request.path_params["token"]
        if not looks_like_token(raw):
            return _unknown()
        decision = per_token.check(raw)
        if not decision.allowed:
            return rate_limited(decision, "this survey link")
        return None

    async def _run(fn, *args) -> Any:
        try:
            return await run_db(gx, fn, *args)
        except UNAVAILABLE_ERRORS:
            log.exception("survey link: database error")
            return database_unavailable()
        except TokenRefused as refused:
            return _refused(refused)
        except ValidationFailed as invalid:
            return _invalid(invalid)
        except GuanxiError as error:
            return error_response(str(error), "BAD_REQUEST", 400)

    async def show(request: Request) -> Response:
        refused = await _guard(request)
        if refused is not None:
            return refused
        result = await _run(_survey_json, request.path_params["tenant"], request.path_params["token"])
        return result if isinstance(result, Response) else JSONResponse(result)

    async def form(request: Request) -> Response:
        refused = await _guard(request)
        if refused is not None:
            return refused
        result = await _run(_survey_json, request.path_params["tenant"], request.path_params["token"])
        if isinstance(result, Response):
            return result
        action = f"/satisfaction/s/{request.path_params['tenant']}/{request.path_params['token']}"
        return _page(result["title_zh"], _form_html(result, action))

    async def submit(request: Request) -> Response:
        refused = await _guard(request)
        if refused is not None:
            return refused
        body = await request.body()
        if len(body) > MAX_BODY:
            return error_response(f"the answer is over {MAX_BODY // 1024} KiB", "BAD_REQUEST", 413)
        from_form = request.headers.get("content-type", "").startswith("application/x-www-form-urlencoded")
        survey_code = None
        if from_form:
            answers = _form_answers(body)
        else:
            try:
                payload = await request.json()
            except ValueError:
                return error_response("send JSON {\"answers\": {question code: answer}}", "BAD_REQUEST", 400)
            if not isinstance(payload, dict) or not isinstance(payload.get("answers"), dict):
                return error_response("send JSON {\"answers\": {question code: answer}}", "BAD_REQUEST", 400)
            answers, survey_code = payload["answers"], payload.get("survey")
            if survey_code is not None and not isinstance(survey_code, str):
                return error_response("survey must be a survey code", "BAD_REQUEST", 400)
        result = await _run(_answer, request.path_params["tenant"], request.path_params["token"], answers, survey_code)
        if isinstance(result, Response):
            return result
        if from_form:
            return _page("谢谢", "<h1>谢谢您的反馈！</h1><p>Thank you, your answer is recorded.</p>", 201)
        return JSONResponse({"status": "recorded"}, status_code=201)

    return [
        Route("/satisfaction/s/{tenant}/{token}", show, methods=["GET"]),
        Route("/satisfaction/s/{tenant}/{token}", submit, methods=["POST"]),
        Route("/satisfaction/s/{tenant}/{token}/form", form, methods=["GET"]),
    ]
