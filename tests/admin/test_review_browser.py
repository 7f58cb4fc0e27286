"""The review queue in a real browser (headless Chromium, as tests/admin/test_browser.py): a
reply flagged from the conversation, the correct answer sent, the question turned into an entry;
then the queue photographed at a desktop's and a phone's width into ``artifacts/``."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

from agrochat.model_output import build_output
from agrochat.persistence import (
    Database,
    KnowledgeStore,
    MessageStore,
    OutboxStore,
    ProducerStore,
    ReviewStatus,
    ReviewStore,
    StoredMessage,
    utcnow,
)
from tests.admin.conftest import ADMIN, PASSWORD, Panel
from tests.admin.test_review import OutboxSessions
from tests.schema import outbox

# Ignored by git (.gitignore): what the tests photograph, to look at.
ARTIFACTS = Path(__file__).resolve().parents[2] / "artifacts"
QUESTION = "¿Cada cuánto riego la papa cuando está en floración?"
ANSWER = "En floración la papa necesita agua pareja: riega cada 5 a 7 días sin encharcar."


def _producer(db: Database, phone: str, name: str, crop: str) -> int:
    store = ProducerStore(db)
    producer, _ = store.get_or_create(phone)
    store.set_fields(producer.id, {"nombre": name, "cultivo": crop}, source="model")
    store.update(producer.id, name=name, status="activo")
    return producer.id


def _turn(
    db: Database, producer_id: int, question: str, reply: str, *, answered: bool, at: dt.datetime
) -> StoredMessage:
    store = MessageStore(db)
    inbound = store.add_inbound(producer_id, question, now=at)
    output = build_output(role="consulta", text=reply, answered=answered)
    return store.record_reply(
        inbound.id, reply, status="answered", role="consulta", model_output=output, now=at
    )


def _seed_queue(db: Database) -> None:
    """Other replies waiting for a look, one per reason, so the photographs show a real queue."""
    start = utcnow() - dt.timedelta(days=2)
    pedro = _producer(db, "51922222222", "Pedro Mamani Condori", "maíz")
    _turn(
        db,
        pedro,
        "¿Qué le echo al maíz que tiene las hojas amarillas desde abajo?",
        "No tengo información verificada sobre eso, y prefiero no darte un dato equivocado. "
        "Dejé tu consulta para que la revise un técnico del equipo.",
        answered=False,
        at=start,
    )
    juana = _producer(db, "51933333333", "Juana", "quinua")
    disliked = _turn(
        db,
        juana,
        "¿Cuándo cosecho la quinua?",
        "Cosecha la quinua cuando las hojas se pongan amarillas y el grano resista la uña.",
        answered=True,
        at=start + dt.timedelta(hours=3),
    )
    row = OutboxStore(db).enqueue("51933333333", disliked.text, reply_to_id=disliked.id)
    assert row is not None
    OutboxStore(db).claim_one(row, 60)
    OutboxStore(db).mark_sent(row, "wamid.juana")
    MessageStore(db).record_reaction(juana, "wamid.juana", "👎")
    _turn(
        db,
        pedro,
        "¿Cómo controlo el gusano cogollero?",
        "Revisa el cogollo dos veces por semana; si ves daño fresco en más de 2 de cada 10 "
        "plantas, consulta al técnico (SENASA, 2020).",
        answered=True,
        at=start + dt.timedelta(hours=6),
    )
    _turn(
        db,
        pedro,
        "¿Y si ya entró al choclo?",
        "No tengo información verificada sobre eso.",
        answered=False,
        at=start + dt.timedelta(hours=6, minutes=4),
    )


def test_flag_send_the_correct_answer_then_keep_it_as_an_entry(
    panel: Panel,
    driver: Any,
) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select, WebDriverWait

    panel.context.sessions = OutboxSessions(panel.db)  # type: ignore[assignment]
    _seed_queue(panel.db)
    rosa = _producer(panel.db, "51987654321", "Rosa Quispe", "papa")
    reply = _turn(
        panel.db,
        rosa,
        QUESTION,
        "Riega cada 15 días (INIA, 2019).",
        answered=True,
        at=utcnow() - dt.timedelta(hours=1),
    )

    def click(element: Any, *, then_heading: str, notice: str | None = None) -> None:
        """Click and wait for the next page (a click returns before the request is sent)."""
        old = driver.find_element(By.TAG_NAME, "html")
        element.click()

        def arrived(d: Any) -> bool:
            if d.find_element(By.TAG_NAME, "html") == old:
                return False
            if then_heading not in d.find_element(By.TAG_NAME, "h1").text:
                return False
            return notice is None or any(
                notice in n.text for n in d.find_elements(By.CSS_SELECTOR, ".notice.ok")
            )

        WebDriverWait(driver, 10).until(arrived)

    def button(label: str, within: Any = None) -> Any:
        return (within or driver).find_element(By.XPATH, f".//button[normalize-space()='{label}']")

    driver.get(f"{panel.url}/admin/producers/{rosa}")
    driver.find_element(By.ID, "usuario").send_keys(ADMIN)
    driver.find_element(By.ID, "clave").send_keys(PASSWORD)
    click(button("Entrar"), then_heading="Rosa Quispe")

    # Flag our reply from the conversation.
    click(button("Marcar para revisar"), then_heading="Rosa Quispe", notice="marcada para revisar")
    click(driver.find_element(By.LINK_TEXT, "Revisar"), then_heading="Respuestas para revisar")
    item = driver.find_element(By.ID, f"respuesta-{reply.id}")
    assert QUESTION in item.text and "Marcada para revisar por ana" in item.text
    assert "Rosa Quispe" in item.text and "papa" in item.text

    # Send the correct answer: through the outbox, and the reply leaves the queue.
    item.find_element(By.TAG_NAME, "summary").click()
    item.find_element(By.ID, f"texto-{reply.id}").send_keys(ANSWER)
    click(
        button("Enviar por WhatsApp", item),
        then_heading="Respuestas para revisar",
        notice="Respuesta correcta en cola",
    )
    assert panel.count(outbox, outbox.c.phone == "51987654321", outbox.c.text == ANSWER) == 1
    assert not driver.find_elements(By.ID, f"respuesta-{reply.id}")

    # Keep it as an entry: the form starts from the question and the answer just sent.
    done = driver.find_element(By.CSS_SELECTOR, ".review-done")
    click(
        done.find_element(By.LINK_TEXT, "Crear un consejo con esta pregunta"),
        then_heading="Nuevo consejo",
    )
    assert driver.find_element(By.ID, "titulo").get_attribute("value") == QUESTION
    assert driver.find_element(By.ID, "respuesta").get_attribute("value") == ANSWER
    assert driver.find_element(By.ID, "cultivo").get_attribute("value") == "papa"
    title = driver.find_element(By.ID, "titulo")
    title.clear()
    title.send_keys("Riego de la papa en floración")
    driver.find_element(By.ID, "texto").send_keys(
        "La floración es la etapa de mayor demanda de agua de la papa; el riego debe mantener "
        "la humedad del suelo sin encharcar."
    )
    Select(driver.find_element(By.ID, "tema")).select_by_value("riego")
    driver.find_element(By.ID, "fuente").send_keys("INIA")
    driver.find_element(By.ID, "fuente_titulo").send_keys("Manejo del riego en papa")
    click(button("Guardar"), then_heading="Respuestas para revisar", notice="Consejo guardado")

    handled = ReviewStore(panel.db).get(reply.id)
    assert handled is not None and handled.status is ReviewStatus.ENTRY
    assert handled.answer == ANSWER
    assert any(e.title == "Riego de la papa en floración" for e in KnowledgeStore(panel.db).all())

    # The queue as it stands (the seeded replies), at a desktop's width and a phone's.
    ARTIFACTS.mkdir(exist_ok=True)
    driver.get(f"{panel.url}/admin/review")
    for width in (1280, 390):
        driver.set_window_size(width, 1000)
        WebDriverWait(driver, 5).until(
            lambda d, w=width: d.execute_script("return window.innerWidth") == w
        )
        height = driver.execute_script("return document.documentElement.scrollHeight")
        driver.set_window_size(width, min(height, 4000))
        path = ARTIFACTS / f"review-{width}.png"
        assert driver.save_screenshot(str(path))
        assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    # Nothing on this page sticks out of its card or the screen...
    wider = driver.execute_script(
        "const w = window.innerWidth;"
        "const out = e => e.getBoundingClientRect().right > Math.min("
        " w, (e.closest('.card') || document.body).getBoundingClientRect().right) + 0.5;"
        "return [...document.querySelectorAll('main *')].filter(out)"
        ".map(e => e.tagName + '.' + e.className).slice(0, 5)"
    )
    assert wider == [], f"wider than a phone or their card: {wider}"
    assert len(driver.find_elements(By.CSS_SELECTOR, ".review-item")) == 4
    # ...and so the page does not scroll sideways.
    page, viewport = driver.execute_script(
        "return [document.documentElement.scrollWidth, window.innerWidth]"
    )
    assert page <= viewport, f"the queue scrolls sideways at 390 px: {page} > {viewport}"
