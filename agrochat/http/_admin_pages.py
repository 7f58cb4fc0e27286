"""The admin panel's pages about producers, alerts and the knowledge base.

Changes go through the stores (and, for a producer's profile, through the producer's session, as
``POST /form/update`` does, so an edit is stored in order with the conversation and its effects,
the name and the "activo" status, follow). Each handler either changes everything it was asked
to and records it in ``audit``, or re-renders its form with a reason per field and changes
nothing. After a change, a redirect (POST/redirect/GET), so reloading a page repeats nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import bottle

from agrochat.actors.session import load_form, validate_fields
from agrochat.actors.transcription import LOW_CONFIDENCE
from agrochat.errors import NotFound, NotReady
from agrochat.http._admin import (
    MAX_ID,
    PAGE_SIZE,
    PRODUCER_STATUS,
    Pager,
    Panel,
    check_id,
    form_data,
    page_param,
    query_param,
    safe_next,
    url,
)
from agrochat.http._admin_forms import (
    TARGET_LABELS,
    TARGETS,
    TOPICS,
    AlertDraft,
    KnowledgeDraft,
    canonical_crop,
    parse_alert,
    parse_knowledge,
    profile_changes,
)
from agrochat.http._alerts import nudge_scheduler
from agrochat.logs import get_logger
from agrochat.persistence import (
    LEVELS,
    REVIEW_STATUSES,
    STATUSES,
    AlertStore,
    KnowledgeEntry,
    KnowledgeStore,
    MessageStore,
    OutboxStore,
    Producer,
    ProducerStore,
    ReviewStatus,
    ReviewStore,
    VoiceNoteStore,
    last_escalation,
    utcnow,
)
from agrochat.phones import normalize_phone
from agrochat.text import fold

log = get_logger(__name__)

Route = Callable[..., Callable[[Callable[..., Any]], Any]]
HISTORY_SIZES = (50, 200, 1000)
# An admin's message is split like the assistant's; this only bounds a runaway paste.
MAX_REPLY_CHARS = 4000
PRODUCER_ALERTS = 20


def install(route: Route, panel: Panel) -> None:
    _producer_routes(route, panel)
    _conversation_routes(route, panel)
    _alert_routes(route, panel)
    _knowledge_routes(route, panel)
    _entry_routes(route, panel)


# -- producers ------------------------------------------------------------------------------


def _producer(panel: Panel, producer_id: int) -> Producer:
    producer = ProducerStore(panel.db).get_by_id(check_id(producer_id, "el productor"))
    if producer is None:
        raise NotFound(f"No existe el productor {producer_id}.")
    return producer


def _producers_page(
    panel: Panel, *, status: int = 200, errors: dict[str, str] | None = None, new_phone: str = ""
) -> str:
    query = query_param("q")[:100]
    state = query_param("estado")
    state = state if state in PRODUCER_STATUS else ""
    flagged = query_param("atencion") == "1"
    page = page_param()
    crop = canonical_crop(query) if query and not any(c.isdigit() for c in query) else None
    rows, total = ProducerStore(panel.db).search(
        query=query,
        crop=crop,
        status=state or None,
        needs_human=flagged,
        limit=PAGE_SIZE,
        offset=(page - 1) * PAGE_SIZE,
    )
    return panel.render(
        "producers",
        status=status,
        title="Productores",
        nav="producers",
        rows=rows,
        query=query,
        state=state,
        flagged=flagged,
        pager=Pager(page=page, size=PAGE_SIZE, total=total),
        errors=errors or {},
        new_phone=new_phone,
    )


def _producer_page(
    panel: Panel,
    producer: Producer,
    *,
    status: int = 200,
    values: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
    reply_text: str = "",
) -> str:
    db = panel.db
    form = load_form("perfil")
    stored = ProducerStore(db).fields(producer.id)
    raw_size = query_param("mensajes", str(HISTORY_SIZES[0]))
    size = int(raw_size) if raw_size in {str(s) for s in HISTORY_SIZES} else HISTORY_SIZES[0]
    history = MessageStore(db).history(producer.id, limit=size)
    alerts = AlertStore(db).recent(producer_id=producer.id, limit=PRODUCER_ALERTS)
    escalation = last_escalation(db, producer.id) if producer.needs_human else None
    ours = [m.id for m in history.messages if m.direction == "out"]
    voiced = [m.id for m in history.messages if m.is_voice]
    return panel.render(
        "producer",
        status=status,
        title=producer.name or f"+{producer.phone}",
        nav="producers",
        producer=producer,
        form=form,
        values=values if values is not None else stored,
        missing=form.missing(stored),
        errors=errors or {},
        history=history,
        history_sizes=HISTORY_SIZES,
        history_size=size,
        alerts=alerts,
        escalated_at=escalation[0] if escalation else None,
        escalated_message=escalation[1] if escalation else None,
        deliveries=OutboxStore(db).deliveries_of(ours),
        reactions=MessageStore(db).reactions_of(ours),
        voice_notes=VoiceNoteStore(db).stored(voiced),
        low_confidence=LOW_CONFIDENCE,
        delivers=panel.ctx.delivers,
        reply_text=reply_text,
        back=url(f"/admin/producers/{producer.id}"),
    )


def _producer_routes(route: Route, panel: Panel) -> None:
    @route("/admin/producers")
    def producers() -> str:
        return _producers_page(panel)

    @route("/admin/producers", "POST")
    def create_producer() -> str:
        raw = form_data(bottle.request).get("telefono", "").strip()
        try:
            phone = normalize_phone(raw)
        except ValueError:
            return _producers_page(
                panel,
                status=422,
                errors={
                    "telefono": "No es un teléfono válido: usa el código de país, "
                    "p. ej. 51987654321."
                },
                new_phone=raw[:64],
            )
        db = panel.db
        with db.tx():
            producer, created = ProducerStore(db).get_or_create(phone)
            if created:
                panel.audit("producer.create", f"producer:{producer.id}", phone=phone)
        notice = "productor" if created else "ya_existe"
        bottle.redirect(url(f"/admin/producers/{producer.id}", ok=notice), 303)
        raise AssertionError("unreachable")

    @route("/admin/producers/<producer_id:int>")
    def producer_detail(producer_id: int) -> str:
        return _producer_page(panel, _producer(panel, producer_id))

    @route("/admin/producers/<producer_id:int>/profile", "POST")
    def update_profile(producer_id: int) -> str:
        producer = _producer(panel, producer_id)
        form = load_form("perfil")
        submitted = form_data(bottle.request)
        stored = ProducerStore(panel.db).fields(producer.id)
        changed, errors = profile_changes(submitted, stored, form.names)
        checked = validate_fields(form, changed, today=panel.today())
        errors.update(checked.errors)
        if errors:
            values = {name: submitted.get(name, "") for name in form.names}
            return _producer_page(panel, producer, status=422, values=values, errors=errors)
        if not checked.values:
            bottle.redirect(url(f"/admin/producers/{producer.id}", ok="sin_cambios"), 303)
        # Through the producer's session, as POST /form/update: in order with its
        # conversation, and the session updates the name and the "activo" status, and writes
        # the audit row in the same transaction as the values.
        try:
            panel.ctx.require_sessions().update_form(
                producer.phone, checked.values, source="admin", author=panel.session().actor
            )
        except NotReady as exc:
            log.warning("profile edit not stored: sessions unavailable", error=exc.message)
            raise NotReady(
                "Las conversaciones se están iniciando o reiniciando, y el perfil se guarda a "
                "través de ellas. No se guardó nada: inténtalo de nuevo en un momento."
            ) from exc
        bottle.redirect(url(f"/admin/producers/{producer.id}", ok="perfil"), 303)
        raise AssertionError("unreachable")

    @route("/admin/producers/<producer_id:int>/status", "POST")
    def update_status(producer_id: int) -> str:
        producer = _producer(panel, producer_id)
        new = form_data(bottle.request).get("estado", "")
        if new not in PRODUCER_STATUS:
            return _producer_page(
                panel, producer, status=422, errors={"estado": "Elige un estado de la lista."}
            )
        if new != producer.status:
            db = panel.db
            with db.tx():
                ProducerStore(db).update(producer.id, status=new)
                panel.audit(
                    "producer.status", f"producer:{producer.id}", status=new, before=producer.status
                )
        bottle.redirect(url(f"/admin/producers/{producer.id}", ok="estado"), 303)
        raise AssertionError("unreachable")


def _conversation_routes(route: Route, panel: Panel) -> None:
    """What an admin does in a producer's conversation: reply, take it over, hand it back."""

    @route("/admin/producers/<producer_id:int>/reply", "POST")
    def reply(producer_id: int) -> str:
        producer = _producer(panel, producer_id)
        text = form_data(bottle.request).get("texto", "").strip()
        problem = None
        if not panel.ctx.delivers:
            problem = (
                "agrochat no tiene una pasarela de WhatsApp propia (AGROCHAT_WHATSAPP=none): "
                "no puede enviar mensajes desde el panel."
            )
        elif not text:
            problem = "Escribe el mensaje."
        elif len(text) > MAX_REPLY_CHARS:
            problem = f"El mensaje tiene {len(text)} caracteres; el límite es {MAX_REPLY_CHARS}."
        if problem is not None:
            status = 422 if panel.ctx.delivers else 409
            return _producer_page(
                panel, producer, status=status, errors={"texto": problem}, reply_text=text[:5000]
            )
        author = panel.session().actor
        sessions = panel.ctx.require_sessions()
        try:
            sessions.admin_reply(producer.phone, text, author=author)
        except NotReady as exc:
            raise NotReady(
                "Las conversaciones se están iniciando o reiniciando. No se envió nada: "
                "inténtalo de nuevo en un momento."
            ) from exc
        bottle.redirect(url(f"/admin/producers/{producer.id}", ok="respuesta"), 303)
        raise AssertionError("unreachable")

    @route("/admin/producers/<producer_id:int>/voice/<message_id:int>")
    def voice_note(producer_id: int, message_id: int) -> bottle.HTTPResponse:
        """A voice note's audio for the page's player: this producer's only (another's id is
        a 404 like a missing one), never cached by a shared cache."""
        producer = _producer(panel, producer_id)
        note = VoiceNoteStore(panel.db).get(producer.id, check_id(message_id, "la nota de voz"))
        if note is None:
            raise NotFound("No hay audio guardado para ese mensaje.")
        return bottle.HTTPResponse(
            body=note.audio,
            status=200,
            headers={
                "Content-Type": note.mimetype,
                "Content-Length": str(len(note.audio)),
                "Cache-Control": "private, no-store",
                "X-Content-Type-Options": "nosniff",
            },
        )

    @route("/admin/producers/<producer_id:int>/takeover", "POST")
    def take_over(producer_id: int) -> str:
        return _hand_over(panel, _producer(panel, producer_id), to_assistant=False)

    @route("/admin/producers/<producer_id:int>/handback", "POST")
    def hand_back(producer_id: int) -> str:
        return _hand_over(panel, _producer(panel, producer_id), to_assistant=True)

    @route("/admin/producers/<producer_id:int>/resolve", "POST")
    def resolve(producer_id: int) -> str:
        producer = _producer(panel, producer_id)
        if producer.needs_human:
            db = panel.db
            with db.tx():
                ProducerStore(db).update(producer.id, needs_human=False)
                panel.audit("producer.resolved", f"producer:{producer.id}")
        bottle.redirect(url(f"/admin/producers/{producer.id}", ok="resuelto"), 303)
        raise AssertionError("unreachable")


def _hand_over(panel: Panel, producer: Producer, *, to_assistant: bool) -> str:
    """Through the producer's session, so it takes effect in order with their messages."""
    author = panel.session().actor
    try:
        panel.ctx.require_sessions().take_over(
            producer.phone, author=author, to_assistant=to_assistant
        )
    except NotReady as exc:
        raise NotReady(
            "Las conversaciones se están iniciando o reiniciando. No cambió nada: inténtalo "
            "de nuevo en un momento."
        ) from exc
    notice = "devuelta" if to_assistant else "tomada"
    bottle.redirect(url(f"/admin/producers/{producer.id}", ok=notice), 303)
    raise AssertionError("unreachable")


# -- alerts ---------------------------------------------------------------------------------


def _alert_form_page(
    panel: Panel,
    *,
    values: dict[str, str],
    errors: dict[str, str] | None = None,
    status: int = 200,
) -> str:
    return panel.render(
        "alert_new",
        status=status,
        title="Nueva alerta",
        nav="alerts",
        values=values,
        errors=errors or {},
        targets=TARGETS,
        target_labels=TARGET_LABELS,
        levels=LEVELS,
        crops=tuple(load_form("perfil").get("cultivo").options),  # type: ignore[union-attr]
        timezone=panel.ctx.config.timezone,
    )


def _create_alerts(panel: Panel, draft: AlertDraft) -> list[int]:
    """Create the alert(s) and their audit row in one transaction."""
    db = panel.db
    store = AlertStore(db)
    with db.tx():
        ids = store.create_for(
            phone=draft.phone,
            segment=draft.segment,
            message=draft.message,
            level=draft.level,
            source="admin",
            scheduled_at=draft.scheduled_at,
        )
        if ids:
            panel.audit(
                "alert.create",
                f"alert:{ids[0]}" if len(ids) == 1 else f"alerts:{ids[0]}..{ids[-1]}",
                count=len(ids),
                phone=draft.phone,
                segment=draft.segment if draft.phone is None else None,
                level=draft.level,
                scheduled_at=draft.scheduled_at.isoformat() if draft.scheduled_at else None,
            )
    return ids


def _alert_routes(route: Route, panel: Panel) -> None:
    @route("/admin/alerts")
    def alerts() -> str:
        state = query_param("estado")
        state = state if state in STATUSES else ""
        page = page_param()
        store = AlertStore(panel.db)
        rows = store.recent(status=state or None, limit=PAGE_SIZE, offset=(page - 1) * PAGE_SIZE)
        counts = store.counts()
        return panel.render(
            "alerts",
            title="Alertas",
            nav="alerts",
            rows=rows,
            names=ProducerStore(panel.db).names(a.producer_id for a in rows if a.producer_id),
            state=state,
            statuses=STATUSES,
            counts=counts,
            pager=Pager(
                page=page,
                size=PAGE_SIZE,
                total=counts.get(state, 0) if state else sum(counts.values()),
            ),
        )

    @route("/admin/alerts/new")
    def new_alert() -> str:
        phone = query_param("telefono")[:64]
        values = {"destino": "telefono" if phone else "", "telefono": phone, "nivel": "media"}
        return _alert_form_page(panel, values=values)

    @route("/admin/alerts", "POST")
    def create_alert() -> str:
        submitted = form_data(bottle.request)
        draft, errors = parse_alert(submitted, zone=panel.zone, now=utcnow())
        ids: list[int] = []
        if draft is not None:
            ids = _create_alerts(panel, draft)
            if not ids:
                errors = {"destino": "Ningún productor activo coincide con ese grupo."}
        if errors:
            return _alert_form_page(panel, values=submitted, errors=errors, status=422)
        assert draft is not None
        log.info("alerts created from the admin panel", count=len(ids), level=draft.level)
        if draft.scheduled_at is None or draft.scheduled_at <= utcnow():
            nudge_scheduler(panel.ctx)
        notice = {"ok": "alerta"} if len(ids) == 1 else {"ok": "alertas", "n": len(ids)}
        bottle.redirect(url("/admin/alerts", **notice), 303)
        raise AssertionError("unreachable")

    @route("/admin/alerts/<alert_id:int>/cancel", "POST")
    def cancel_alert(alert_id: int) -> str:
        check_id(alert_id, "la alerta")
        back = safe_next(form_data(bottle.request).get("volver"), "/admin/alerts")
        db = panel.db
        store = AlertStore(db)
        if store.get(alert_id) is None:
            raise NotFound(f"No existe la alerta {alert_id}.")
        with db.tx():
            cancelled = store.cancel(alert_id)
            if cancelled:
                panel.audit("alert.cancel", f"alert:{alert_id}")
        separator = "&" if "?" in back else "?"
        outcome = "ok=cancelada" if cancelled else "err=no_cancelable"
        bottle.redirect(f"{back}{separator}{outcome}", 303)
        raise AssertionError("unreachable")


# -- knowledge ------------------------------------------------------------------------------

KNOWLEDGE_FIELDS = (
    "titulo",
    "respuesta",
    "texto",
    "cultivo",
    "tema",
    "palabras",
    "fuente",
    "fuente_titulo",
    "fuente_anio",
    "fuente_url",
)


# A prefilled value is cut here; the form's own checks judge it on saving.
MAX_PREFILL = 4000


def reply_id_param(raw: str) -> int | None:
    """One of our replies named in a link or a hidden field (the review queue's): an id that
    can exist, or None."""
    raw = raw.strip()
    if raw.isascii() and raw.isdigit() and len(raw) <= 10 and 0 < int(raw) <= MAX_ID:
        return int(raw)
    return None


def _entry_values(draft: KnowledgeDraft) -> dict[str, Any]:
    return {
        "title": draft.title,
        "answer": draft.answer,
        "body": draft.body,
        "crop": draft.crop,
        "topic": draft.topic,
        "keywords": draft.keywords,
        "source": draft.source,
        "source_title": draft.source_title,
        "source_year": draft.source_year,
        "source_url": draft.source_url,
    }


def _knowledge_form_page(
    panel: Panel,
    *,
    entry_id: int | None,
    values: dict[str, str],
    errors: dict[str, str] | None = None,
    status: int = 200,
    entry: KnowledgeEntry | None = None,
) -> str:
    return panel.render(
        "knowledge_form",
        status=status,
        title="Editar consejo" if entry_id else "Nuevo consejo",
        nav="knowledge",
        entry_id=entry_id,
        entry=entry,
        values=values,
        errors=errors or {},
        topics=TOPICS,
        crops=tuple(load_form("perfil").get("cultivo").options),  # type: ignore[union-attr]
    )


def _knowledge_routes(route: Route, panel: Panel) -> None:
    @route("/admin/knowledge")
    def knowledge() -> str:
        query = query_param("q")[:100]
        topic = query_param("tema")
        topic = topic if topic in TOPICS else ""
        review = query_param("revision")
        review = review if review in REVIEW_STATUSES else ""
        everything = KnowledgeStore(panel.db).all()
        entries = everything
        if topic:
            entries = [e for e in entries if e.topic == topic]
        if review:
            entries = [e for e in entries if e.review_status == review]
        if query:
            needle = fold(query)
            entries = [
                e
                for e in entries
                if needle
                in fold(f"{e.title} {e.answer} {e.body} {e.keywords} {e.crop or ''} {e.source}")
            ]
        page = page_param()
        pager = Pager(page=page, size=PAGE_SIZE, total=len(entries))
        return panel.render(
            "knowledge",
            title="Base de conocimiento",
            nav="knowledge",
            entries=entries[pager.offset : pager.offset + PAGE_SIZE],
            query=query,
            topic=topic,
            topics=TOPICS,
            review=review,
            pending=sum(1 for e in everything if e.review_status == "pending"),
            pager=pager,
        )

    @route("/admin/knowledge/new")
    def new_entry() -> str:
        # Prefilled from a link (the review queue's "turn this question into an entry"):
        # the values only fill the form, which escapes them like any other.
        values = {k: query_param(k)[:MAX_PREFILL] for k in KNOWLEDGE_FIELDS if query_param(k)}
        revision = reply_id_param(query_param("revision"))
        if revision is not None:
            values["revision"] = str(revision)
        return _knowledge_form_page(panel, entry_id=None, values=values)

    @route("/admin/knowledge", "POST")
    def create_entry() -> str:
        submitted = form_data(bottle.request)
        draft, errors = parse_knowledge(submitted)
        revision = reply_id_param(submitted.get("revision", ""))
        if draft is None:
            values = {k: submitted.get(k, "") for k in KNOWLEDGE_FIELDS}
            if revision is not None:
                values["revision"] = str(revision)
            return _knowledge_form_page(
                panel, entry_id=None, values=values, errors=errors, status=422
            )
        db = panel.db
        reviewed = False
        with db.tx():
            entry_id = KnowledgeStore(db).add(**_entry_values(draft))
            panel.audit("knowledge.create", f"knowledge:{entry_id}", title=draft.title)
            if revision is not None:
                # The reply the question came from leaves the review queue with the entry.
                reviewed = ReviewStore(db).handle(
                    revision, ReviewStatus.ENTRY, by=panel.session().actor, knowledge_id=entry_id
                )
                if reviewed:
                    panel.audit("review.entry", f"message:{revision}", knowledge_id=entry_id)
        bottle.redirect(
            "/admin/review?ok=revision_consejo" if reviewed else "/admin/knowledge?ok=consejo", 303
        )
        raise AssertionError("unreachable")


def _entry_routes(route: Route, panel: Panel) -> None:
    """One entry: edit it, sign it off, retire it."""

    @route("/admin/knowledge/<entry_id:int>")
    def edit_entry(entry_id: int) -> str:
        entry = KnowledgeStore(panel.db).get(check_id(entry_id, "el consejo"))
        if entry is None:
            raise NotFound(f"No existe el consejo {entry_id}.")
        values = {
            "titulo": entry.title,
            "respuesta": entry.answer,
            "texto": entry.body,
            "cultivo": entry.crop or "",
            "tema": entry.topic or "",
            "palabras": entry.keywords,
            "fuente": entry.source or "",
            "fuente_titulo": entry.source_title or "",
            "fuente_anio": str(entry.source_year or ""),
            "fuente_url": entry.source_url or "",
        }
        return _knowledge_form_page(panel, entry_id=entry.id, values=values, entry=entry)

    @route("/admin/knowledge/<entry_id:int>", "POST")
    def update_entry(entry_id: int) -> str:
        db = panel.db
        store = KnowledgeStore(db)
        before = store.get(check_id(entry_id, "el consejo"))
        if before is None:
            raise NotFound(f"No existe el consejo {entry_id}.")
        submitted = form_data(bottle.request)
        draft, errors = parse_knowledge(submitted)
        if draft is None:
            values = {k: submitted.get(k, "") for k in KNOWLEDGE_FIELDS}
            return _knowledge_form_page(
                panel, entry_id=entry_id, values=values, errors=errors, status=422, entry=before
            )
        with db.tx():
            store.update(entry_id, **_entry_values(draft))
            panel.audit(
                "knowledge.update",
                f"knowledge:{entry_id}",
                title=draft.title,
                before={"title": before.title, "answer": before.answer, "body": before.body},
            )
        bottle.redirect("/admin/knowledge?ok=consejo", 303)
        raise AssertionError("unreachable")

    @route("/admin/knowledge/<entry_id:int>/review", "POST")
    def review_entry(entry_id: int) -> str:
        """An agronomist signs the entry off as it stands (an edit makes it pending again)."""
        db = panel.db
        store = KnowledgeStore(db)
        entry = store.get(check_id(entry_id, "el consejo"))
        if entry is None:
            raise NotFound(f"No existe el consejo {entry_id}.")
        reviewer = panel.session().actor
        with db.tx():
            store.review(entry_id, reviewer=reviewer)
            panel.audit("knowledge.review", f"knowledge:{entry_id}", title=entry.title)
        bottle.redirect(f"/admin/knowledge/{entry_id}?ok=revisado", 303)
        raise AssertionError("unreachable")

    @route("/admin/knowledge/<entry_id:int>/delete", "POST")
    def delete_entry(entry_id: int) -> str:
        db = panel.db
        store = KnowledgeStore(db)
        entry = store.get(check_id(entry_id, "el consejo"))
        if entry is None:
            raise NotFound(f"No existe el consejo {entry_id}.")
        with db.tx():
            # Retired, not deleted: the assistant stops quoting it and no later seed revives it.
            store.retire(entry_id)
            panel.audit(
                "knowledge.delete",
                f"knowledge:{entry_id}",
                title=entry.title,
                body=entry.body,
                crop=entry.crop,
                topic=entry.topic,
            )
        bottle.redirect("/admin/knowledge?ok=consejo_borrado", 303)
        raise AssertionError("unreachable")
