"""The review queue at ``/admin/review``: the assistant's replies an agronomist should look at.

Why a reply is here is the store's business (``ReviewStore``); this page shows each one with the
producer's question and offers three ways out of the queue, each audited: the reply was fine;
the correct answer goes to the producer (through their session and the outbox, exactly as the
producer page's reply form, so the conversation is then the team's); or the question becomes a
new knowledge entry (the knowledge form, prefilled; saving it takes the reply off the queue).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import NoReturn

import bottle

from agrochat.errors import NotFound, NotReady
from agrochat.http._admin import (
    PAGE_SIZE,
    Pager,
    Panel,
    check_id,
    form_data,
    page_param,
    query_param,
    safe_next,
    url,
)
from agrochat.http._admin_forms import MAX_TITLE, canonical_crop
from agrochat.http._admin_pages import MAX_REPLY_CHARS, Route, reply_id_param
from agrochat.logs import get_logger
from agrochat.persistence import ReviewItem, ReviewReason, ReviewStatus, ReviewStore

log = get_logger(__name__)

REASONS = {
    ReviewReason.NO_ANSWER: "No tenía una respuesta verificada",
    ReviewReason.THUMBS_DOWN: "El productor reaccionó con 👎",
    ReviewReason.ASKED_AGAIN: "El productor volvió a preguntar enseguida",
    ReviewReason.FLAGGED: "Marcada para revisar",
}
NO_GATEWAY = (
    "agrochat no tiene una pasarela de WhatsApp propia (AGROCHAT_WHATSAPP=none): "
    "no puede enviar mensajes desde el panel."
)


def install(route: Route, panel: Panel) -> None:
    @route("/admin/review")
    def queue() -> str:
        page = page_param()
        store = ReviewStore(panel.db)
        items, total = store.pending(limit=PAGE_SIZE, offset=(page - 1) * PAGE_SIZE)
        # Just answered by hand: offer to keep that answer as an entry for next time.
        answered = reply_id_param(query_param("hecha"))
        done = store.get(answered) if answered is not None else None
        if done is not None and done.status is not ReviewStatus.ANSWERED:
            done = None
        return _queue_page(panel, items, Pager(page=page, size=PAGE_SIZE, total=total), done=done)

    @route("/admin/review/<reply_id:int>/flag", "POST")
    def flag(reply_id: int) -> str:
        item = _item(panel, reply_id)
        back = safe_next(
            form_data(bottle.request).get("volver"), f"/admin/producers/{item.producer_id}"
        )
        db = panel.db
        with db.tx():
            ReviewStore(db).flag(reply_id, by=panel.session().actor)
            panel.audit("review.flag", f"message:{reply_id}", producer_id=item.producer_id)
        _redirect(back, "marcada")

    @route("/admin/review/<reply_id:int>/fine", "POST")
    def fine(reply_id: int) -> str:
        item = _pending(panel, reply_id)
        db = panel.db
        with db.tx():
            ReviewStore(db).handle(item.reply_id, ReviewStatus.FINE, by=panel.session().actor)
            panel.audit("review.fine", f"message:{reply_id}", producer_id=item.producer_id)
        _redirect(_back(), "revision_bien")

    @route("/admin/review/<reply_id:int>/answer", "POST")
    def answer(reply_id: int) -> str:
        return _answer(panel, _pending(panel, reply_id))


def _queue_page(
    panel: Panel,
    items: list[ReviewItem],
    pager: Pager,
    *,
    status: int = 200,
    errors: Mapping[int, str] | None = None,
    texts: Mapping[int, str] | None = None,
    focused: bool = False,
    done: ReviewItem | None = None,
) -> str:
    return panel.render(
        "review",
        status=status,
        title="Respuestas para revisar",
        nav="review",
        items=items,
        pager=pager,
        reasons=REASONS,
        entry_link=_entry_link,
        delivers=panel.ctx.delivers,
        answer_errors=errors or {},
        answer_texts=texts or {},
        focused=focused,
        done=done,
        back=url("/admin/review", pagina=pager.page if pager.page > 1 else None),
        max_chars=MAX_REPLY_CHARS,
    )


def _answer(panel: Panel, item: ReviewItem) -> str:
    """The correct answer, written by the admin, to the producer: the producer page's path."""
    text = form_data(bottle.request).get("texto", "").strip()
    problem = None
    if not panel.ctx.delivers:
        problem = NO_GATEWAY
    elif not text:
        problem = "Escribe la respuesta correcta."
    elif len(text) > MAX_REPLY_CHARS:
        problem = f"La respuesta tiene {len(text)} caracteres; el límite es {MAX_REPLY_CHARS}."
    if problem is not None:
        # Only this item, with the reason and what was written: nothing was sent or changed.
        return _queue_page(
            panel,
            [item],
            Pager(page=1, size=PAGE_SIZE, total=1),
            status=422 if panel.ctx.delivers else 409,
            errors={item.reply_id: problem},
            texts={item.reply_id: text[:5000]},
            focused=True,
        )
    author = panel.session().actor
    try:
        sent = panel.ctx.require_sessions().admin_reply(item.phone, text, author=author)
    except NotReady as exc:
        raise NotReady(
            "Las conversaciones se están iniciando o reiniciando. No se envió nada: "
            "inténtalo de nuevo en un momento."
        ) from exc
    message_id = sent.get("message_id") if isinstance(sent, dict) else None
    db = panel.db
    with db.tx():
        ReviewStore(db).handle(
            item.reply_id,
            ReviewStatus.ANSWERED,
            by=author,
            answer_id=message_id if isinstance(message_id, int) else None,
        )
        panel.audit(
            "review.answered",
            f"message:{item.reply_id}",
            producer_id=item.producer_id,
            answer_id=message_id,
        )
    log.info("review answered by hand", reply_id=item.reply_id, producer_id=item.producer_id)
    _redirect(url("/admin/review", hecha=item.reply_id), "revision_respuesta")


def _entry_link(item: ReviewItem) -> str:
    """The knowledge form, prefilled with the producer's question (``url`` escapes it; the form
    escapes it again on the page), the correct answer if one was sent, and the reply it came
    from."""
    question = " ".join(item.question.split())
    title = question if len(question) <= MAX_TITLE else question[: MAX_TITLE - 1] + "…"
    crop = canonical_crop(item.crop) if item.crop else None
    return url(
        "/admin/knowledge/new",
        titulo=title,
        respuesta=item.answer,
        cultivo=crop,
        revision=item.reply_id,
    )


def _item(panel: Panel, reply_id: int) -> ReviewItem:
    item = ReviewStore(panel.db).get(check_id(reply_id, "la respuesta"))
    if item is None:
        raise NotFound(f"No existe la respuesta del asistente {reply_id}.")
    return item


def _pending(panel: Panel, reply_id: int) -> ReviewItem:
    item = _item(panel, reply_id)
    if item.status is not ReviewStatus.PENDING:
        # Reviewed by someone else meanwhile (or this form sent twice): do nothing twice.
        _redirect(_back(), None, problem="ya_revisada")
    return item


def _back() -> str:
    return safe_next(form_data(bottle.request).get("volver"), "/admin/review")


def _redirect(back: str, notice: str | None, *, problem: str | None = None) -> NoReturn:
    separator = "&" if "?" in back else "?"
    outcome = f"ok={notice}" if notice else f"err={problem}"
    bottle.redirect(f"{back}{separator}{outcome}", 303)
    raise AssertionError("unreachable")
