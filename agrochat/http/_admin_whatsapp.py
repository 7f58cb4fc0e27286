"""The panel's WhatsApp page: how each of agrochat's numbers is doing, and the QR to link one.

While a WAHA session waits for its phone (``SCAN_QR_CODE``) the page shows the QR WAHA draws,
proxied through the panel (the browser never talks to WAHA, whose key stays on the server), and
reloads itself until the phone is linked, so an admin links it from ``/admin`` without a
terminal.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import bottle

from agrochat.actors.whatsapp import SCAN_QR_CODE, TransportError, WahaClient
from agrochat.errors import NotFound, NotReady
from agrochat.http._admin import Panel
from agrochat.logs import get_logger

log = get_logger(__name__)

Route = Callable[..., Callable[[Callable[..., Any]], Any]]
# While a number is not working, the page reloads this often (seconds): WAHA renews its QR
# about every 20 s.
REFRESH_S = 5
PROBLEM_LABELS = {
    None: "Conectado",
    "bad_api_key": "WAHA rechaza la clave (AGROCHAT_WAHA_API_KEY)",
    "failed": "La sesión de WAHA falló: reiníciala en WAHA",
    "stopped": "La sesión de WAHA está detenida: iníciala en WAHA",
    "scan_qr_code": "Esperando que se vincule un teléfono",
    "connecting": "Conectando con WAHA…",
    "disconnected": "Sin conexión con WAHA; reintentando",
    "starting": "La sesión de WAHA está iniciando",
}
# Several agrochat processes share the database: one owns each WAHA session's events.
STANDBY_LABEL = "En espera: otro proceso de agrochat atiende esta sesión"


def install(route: Route, panel: Panel) -> None:
    @route("/admin/whatsapp")
    def whatsapp() -> str:
        state = panel.ctx.gateway_state
        numbers = state.channels() if state is not None else []
        return panel.render(
            "whatsapp",
            title="WhatsApp",
            nav="whatsapp",
            mode=panel.ctx.config.whatsapp,
            numbers=numbers,
            labels=PROBLEM_LABELS,
            standby_label=STANDBY_LABEL,
            scan=SCAN_QR_CODE,
            refresh=REFRESH_S if any(n.problem for n in numbers) else None,
        )

    @route("/admin/whatsapp/<channel>/qr")
    def qr(channel: str) -> bottle.HTTPResponse:
        channels = panel.ctx.channels
        if channels is None or not channels.known(channel):
            raise NotFound("Ese número no está configurado.")
        transport = channels.get(channel).transport
        if not isinstance(transport, WahaClient):
            raise NotFound("Solo los números de WAHA se vinculan con un QR.")
        try:
            code = transport.qr()
        except TransportError as exc:
            log.warning("could not fetch the QR from WAHA", channel=channel, error=str(exc))
            raise NotReady("WAHA no entregó el QR; se reintenta al recargar.") from exc
        if code is None:
            raise NotFound("No hay QR: la sesión no está esperando un teléfono.")
        return bottle.HTTPResponse(
            body=code.image, status=200, headers={"Content-Type": code.mimetype}
        )
