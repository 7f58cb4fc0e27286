"""``agrochat chat --phone 51987654321``: talk to agrochat in a terminal as one producer.

The messages take the same path as WhatsApp's and /agent's (directory -> session -> model), with
source "terminal": the reply is printed here, never sent to a gateway.
"""

from __future__ import annotations

import sys
from typing import TextIO

from agrochat import logs
from agrochat.actors.session import SessionGateway
from agrochat.app import Agrochat
from agrochat.config import Config
from agrochat.errors import AgrochatError
from agrochat.phones import chat_id, normalize_phone

QUIT = ("/salir", "/exit", "/quit")


def _chat_loop(gateway: SessionGateway, phone: str, *, stdin: TextIO, stdout: TextIO) -> int:
    stdout.write(f"Conversando como {chat_id(phone)}. Escribe /salir (o Ctrl-D) para terminar.\n")
    stdout.flush()
    while True:
        stdout.write("tú> ")
        stdout.flush()
        line = stdin.readline()
        if not line:
            stdout.write("\n")
            return 0
        text = line.strip()
        if not text:
            continue
        if text.lower() in QUIT:
            return 0
        try:
            reply = gateway.converse(phone, text, source="terminal")
        except AgrochatError as exc:
            stdout.write(f"(agrochat no pudo responder: {exc.message})\n")
            continue
        stdout.write(f"agrochat> {reply.model_output['respuesta_chat']}\n")
        stdout.flush()


def run_terminal_chat(
    config: Config,
    phone: str,
    *,
    stdin: TextIO,
    stdout: TextIO,
    gateway: SessionGateway | None = None,
) -> int:
    """Run an interactive conversation; returns the process exit status.

    Without ``gateway`` this starts agrochat's actors (the model included) in this process, with
    its HTTP server on a free loopback port and no WhatsApp gateway.
    """
    try:
        canonical = normalize_phone(phone)
    except ValueError as exc:
        stdout.write(f"teléfono inválido: {exc}\n")
        return 2
    if gateway is not None:
        return _chat_loop(gateway, canonical, stdin=stdin, stdout=stdout)

    # The chat owns the terminal: logs go to stderr, and only warnings.
    logs.configure(
        level="WARNING", fmt=config.log_format, secrets=config.secrets(), stream=sys.stderr
    )
    app = Agrochat(config.replace(bind="127.0.0.1:0", whatsapp="none"), announce=sys.stderr)
    stdout.write("Iniciando agrochat (la primera respuesta espera a que cargue el modelo)…\n")
    app.start()
    try:
        return _chat_loop(
            # The app resolves actor ids through its supervisor, whatever restarted meanwhile.
            SessionGateway(app, reply_timeout_s=app.config.reply_timeout_s),
            canonical,
            stdin=stdin,
            stdout=stdout,
        )
    finally:
        app.stop()
