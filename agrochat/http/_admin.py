"""The admin panel at ``/admin``: server-rendered pages (Bottle's SimpleTemplate, no JavaScript).

Who may do what is declared on each route, like the rest of the app: ``auth="admin"`` routes need
a logged-in admin (pages redirect to the login otherwise) and, for a POST, the session's CSRF
token; the login page itself and the stylesheet are ``auth="none"``. ``AdminPanelPlugin`` (applied
to the panel's routes only) does that check and renders every error as an HTML page with the
error's status, where the rest of the app answers JSON.

Producer text (messages, names, form values) reaches the page only through ``{{ }}``, which
escapes it; no template prints user data raw. Every change an admin makes writes an ``audit`` row
(actor ``admin:<name>``), in the same transaction as the change where the change is ours to make.

The pages themselves are in ``_admin_pages``; this module holds what they share, the login, the
dashboard, the account and the audit trail.
"""

from __future__ import annotations

import datetime as dt
import math
import re
import zoneinfo
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import bottle

from agrochat.errors import (
    AgrochatError,
    BadRequest,
    Forbidden,
    NotFound,
    Overloaded,
    PayloadTooLarge,
)
from agrochat.http import _admin_trends
from agrochat.http._admin_auth import (
    COOKIE_PATH,
    KNOWN_BROWSER_COOKIE,
    KNOWN_BROWSER_MAX_AGE_S,
    LOGIN_COOKIE,
    SESSION_COOKIE,
    LoginThrottle,
    new_token,
    tokens_match,
)
from agrochat.http._context import AppContext
from agrochat.http._health import health_report
from agrochat.logs import get_logger
from agrochat.persistence import (
    MIN_PASSWORD_LENGTH,
    AdminSession,
    AdminSessionStore,
    AdminStore,
    AlertStore,
    Database,
    Days,
    MessageStore,
    ProducerStore,
    recent_audit,
    record_audit,
)

log = get_logger(__name__)

TEMPLATE_DIR = Path(__file__).parent / "templates"
STATIC_DIR = Path(__file__).parent / "static"
SESSION_ENV = "agrochat.admin_session"
PAGE_SIZE = 25
MAX_PAGE = 100_000
MAX_ID = 2**31 - 1
# A panel form is a few kilobytes; the knowledge editor's body is the largest field.
MAX_FORM_BYTES = 64 * 1024
MAX_USERNAME = 64
# The dashboard counts producers' reactions to our replies over this many days (today included).
REACTION_DAYS = 7
MAX_PASSWORD = 1024

# No JavaScript at all, no inline styles, nothing from elsewhere, never inside a frame; audio
# from the panel itself (the voice notes' player).
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; style-src 'self'; img-src 'self'; media-src 'self'; "
        "form-action 'self'; "
        "frame-ancestors 'none'; base-uri 'none'"
    ),
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}

# Messages shown after a redirect (?ok=... / ?err=...): fixed texts, never text from the URL.
NOTICES = {
    "login": "Sesión iniciada.",
    "logout": "Sesión cerrada.",
    "expired": "Tu sesión terminó; vuelve a entrar.",
    "perfil": "Perfil actualizado.",
    "sin_cambios": "No había cambios que guardar.",
    "estado": "Estado del productor actualizado.",
    "resuelto": "Conversación marcada como resuelta.",
    "respuesta": "Mensaje en cola para enviarse; el asistente no responde a este productor "
    "hasta que lo devuelvas.",
    "tomada": "Conversación tomada: el asistente no responde a este productor.",
    "devuelta": "Conversación devuelta al asistente.",
    "productor": "Productor creado.",
    "ya_existe": "Ese productor ya existía; esta es su ficha.",
    "alerta": "Alerta creada.",
    "alertas": "Alertas creadas.",
    "cancelada": "Alerta cancelada.",
    "consejo": "Consejo guardado.",
    "consejo_borrado": "Consejo retirado: el asistente ya no lo cita.",
    "revisado": "Consejo marcado como revisado.",
    "clave": "Contraseña cambiada; tus otras sesiones se cerraron.",
    "marcada": "Respuesta marcada para revisar: está en «Revisar».",
    "revision_bien": "Respuesta marcada como correcta: salió de la cola.",
    "revision_respuesta": "Respuesta correcta en cola para enviarse; el asistente no responde a "
    "este productor hasta que le devuelvas la conversación.",
    "revision_consejo": "Consejo guardado; la consulta salió de la cola de revisión.",
}
PROBLEMS = {
    "no_cancelable": "Esa alerta ya no se puede cancelar (se envió o terminó).",
    "ya_revisada": "Esa respuesta ya estaba revisada; no se hizo nada.",
}

PRODUCER_STATUS = {
    "nuevo": "Nuevo (registro en curso)",
    "activo": "Activo",
    "inactivo": "Inactivo",
}
ALERT_STATUS = {
    "pending": "Pendiente",
    "sending": "Enviando",
    "sent": "Enviada",
    "failed": "Fallida",
    "cancelled": "Cancelada",
    "expired": "Vencida",
}
_NEXT_PATH = re.compile(r"^/admin(?:/[A-Za-z0-9_\-./]*)?(?:\?[A-Za-z0-9_\-.=&%+]*)?$")


# -- pieces the pages share --------------------------------------------------------------


@dataclass(frozen=True)
class Pager:
    page: int
    size: int
    total: int

    @property
    def pages(self) -> int:
        return max(1, math.ceil(self.total / self.size))

    @property
    def offset(self) -> int:
        return (self.page - 1) * self.size

    @property
    def first(self) -> int:
        return min(self.total, self.offset + 1)

    @property
    def last(self) -> int:
        return min(self.total, self.offset + self.size)


class Templates:
    """SimpleTemplates from ``templates/``, compiled once each."""

    def __init__(self, directory: Path = TEMPLATE_DIR) -> None:
        self.lookup = [str(directory)]
        self._cache: dict[str, bottle.SimpleTemplate] = {}

    def render(self, name: str, values: Mapping[str, Any]) -> str:
        template = self._cache.get(name)
        if template is None:
            template = bottle.SimpleTemplate(name=name, lookup=self.lookup)
            self._cache[name] = template
        return str(template.render(dict(values)))


def url(path: str, **params: Any) -> str:
    """A panel link with a query string (values escaped); None and "" parameters are left out."""
    query = {k: v for k, v in params.items() if v not in (None, "", False)}
    return f"{path}?{urlencode(query)}" if query else path


def phone_label(phone: str | None) -> str:
    return f"+{phone}" if phone else "—"


def safe_next(target: str | None, default: str = "/admin") -> str:
    """Where to go next (after the login, after an action): a panel path, never another site."""
    if target and _NEXT_PATH.match(target) and "//" not in target:
        return target
    return default


def form_data(request: bottle.BaseRequest) -> dict[str, str]:
    """The POSTed form, decoded as UTF-8 (Bottle hands out latin-1 strings otherwise)."""
    if request.content_length > MAX_FORM_BYTES:
        raise PayloadTooLarge("el formulario es demasiado grande")
    try:
        forms = request.forms.decode("utf-8")
    except UnicodeDecodeError:
        # Our pages declare UTF-8 and browsers send their forms in it: other bytes (raw or
        # %-escaped) come from a broken or hostile client. Every panel POST reads its form here
        # (the CSRF check first), so this one refusal covers them all.
        raise BadRequest(
            "El formulario llegó con caracteres no válidos (no es UTF-8). "
            "Vuelve a la página y envíalo de nuevo."
        ) from None
    return {key: forms.get(key, "") for key in forms}


def query_param(name: str, default: str = "") -> str:
    value = bottle.request.query.getunicode(name, default=default)
    return value if isinstance(value, str) else default


def page_param() -> int:
    raw = query_param("pagina", "1")
    # ASCII digits only: "²" passes str.isdigit() but int() refuses it.
    if not (raw.isascii() and raw.isdigit()) or int(raw) < 1:
        return 1
    return min(int(raw), MAX_PAGE)


def check_id(value: int, what: str) -> int:
    # Ids are 32-bit in both databases; a larger number names nothing.
    if not 0 < value <= MAX_ID:
        raise NotFound(f"No existe {what} {value}.")
    return value


class Panel:
    """What every admin route uses: the database, sessions, templates, time and the throttle."""

    def __init__(self, ctx: AppContext, *, throttle: LoginThrottle | None = None) -> None:
        self.ctx = ctx
        self.templates = Templates()
        self.throttle = throttle or LoginThrottle()
        self.zone = zoneinfo.ZoneInfo(ctx.config.timezone)

    # -- time, in the producers' zone (the admins work there too) --------------------------

    def local(self, value: dt.datetime | None, with_time: bool = True) -> str:
        if value is None:
            return "—"
        local = value.replace(tzinfo=dt.UTC).astimezone(self.zone)
        return local.strftime("%d/%m/%Y %H:%M" if with_time else "%d/%m/%Y")

    def local_input(self, value: dt.datetime | None) -> str:
        """A naive-UTC time as an ``<input type=datetime-local>`` value."""
        if value is None:
            return ""
        return value.replace(tzinfo=dt.UTC).astimezone(self.zone).strftime("%Y-%m-%dT%H:%M")

    def today(self) -> dt.date:
        return dt.datetime.now(dt.UTC).astimezone(self.zone).date()

    def day_start(self) -> dt.datetime:
        """Midnight today where the producers are, as naive UTC."""
        midnight = dt.datetime.combine(self.today(), dt.time(), tzinfo=self.zone)
        return midnight.astimezone(dt.UTC).replace(tzinfo=None)

    # -- database and sessions -------------------------------------------------------------

    @property
    def db(self) -> Database:
        return self.ctx.require_database()

    def sessions(self) -> AdminSessionStore:
        return AdminSessionStore(self.db)

    def current_session(self) -> AdminSession | None:
        return self.sessions().lookup(bottle.request.get_cookie(SESSION_COOKIE))

    @staticmethod
    def session() -> AdminSession:
        session: AdminSession = bottle.request.environ[SESSION_ENV]
        return session

    def audit(self, action: str, target: str | None = None, **details: Any) -> None:
        record_audit(
            self.db,
            actor=self.session().actor,
            action=action,
            target=target,
            details=details or None,
        )

    def set_cookie(self, name: str, value: str, *, max_age: int | None = None) -> None:
        options: dict[str, Any] = {"max_age": max_age} if max_age is not None else {}
        bottle.response.set_cookie(
            name,
            value,
            path=COOKIE_PATH,
            httponly=True,
            samesite="strict",
            # Behind a trusted TLS proxy waitress sets the scheme from X-Forwarded-Proto (and
            # drops that header from anyone else).
            secure=bottle.request.urlparts.scheme == "https",
            **options,
        )

    def password_key(self, username: str) -> tuple[str, str]:
        """The login throttle's key for a password try: this browser's own when it proves it
        has logged in as ``username`` before, else the client address's."""
        name = username.strip().lower()[:MAX_USERNAME]
        given = bottle.request.get_cookie(KNOWN_BROWSER_COOKIE)
        if given and 0 < len(username) <= MAX_USERNAME:
            proof = AdminStore(self.db).browser_proof(username.strip())
            if proof and tokens_match(given, proof):
                return ("known browser", name)
        return (client_address(bottle.request), name)

    def clear_cookie(self, name: str) -> None:
        bottle.response.delete_cookie(name, path=COOKIE_PATH)

    # -- rendering ----------------------------------------------------------------------------

    def render(self, name: str, *, status: int = 200, **values: Any) -> str:
        session = bottle.request.environ.get(SESSION_ENV)
        notice = NOTICES.get(query_param("ok"))
        problem = PROBLEMS.get(query_param("err"))
        count = query_param("n")
        if notice and count.isascii() and count.isdigit():
            notice = f"{notice} ({count})"
        common = {
            "admin": session.username if session else None,
            "csrf": session.csrf_token if session else "",
            "notice": notice,
            "problem": problem,
            "nav": "",
            "title": "Panel",
            "when": self.local,
            "url": url,
            "phone_label": phone_label,
            "producer_status": PRODUCER_STATUS,
            "alert_status": ALERT_STATUS,
            "errors": {},
            "timezone": self.ctx.config.timezone,
        }
        bottle.response.status = status
        bottle.response.content_type = "text/html; charset=utf-8"
        return self.templates.render(name, {**common, **values})

    def error_page(self, status: int, message: str) -> str:
        titles = {
            400: "Solicitud no válida",
            403: "Acción no permitida",
            404: "No encontrado",
            413: "Formulario demasiado grande",
            422: "Datos no válidos",
            500: "Error interno",
            503: "Servicio no disponible",
        }
        return self.render(
            "error",
            status=status,
            title=titles.get(status, "Error"),
            code=status,
            message=message,
        )


class AdminPanelPlugin:
    """Applied to the panel's routes only: security headers, the login and CSRF checks for
    ``auth="admin"`` routes, and errors as HTML pages."""

    name = "agrochat_admin_panel"
    api = 2

    def __init__(self, panel: Panel) -> None:
        self.panel = panel

    def apply(self, callback: Callable[..., Any], route: bottle.Route) -> Callable[..., Any]:
        protected = route.config.get("auth") == "admin"
        panel = self.panel

        def wrapper(*args: Any, **kwargs: Any) -> Any:
            request = bottle.request
            for header, value in SECURITY_HEADERS.items():
                bottle.response.set_header(header, value)
            try:
                if protected:
                    session = panel.current_session()
                    if session is None:
                        had_cookie = bool(request.get_cookie(SESSION_COOKIE))
                        if had_cookie:
                            panel.clear_cookie(SESSION_COOKIE)
                        target = request.fullpath
                        if request.query_string:
                            target += "?" + request.query_string
                        bottle.redirect(
                            url(
                                "/admin/login",
                                next=target if request.method == "GET" else None,
                                ok="expired" if had_cookie else None,
                            ),
                            303,
                        )
                    request.environ[SESSION_ENV] = session
                    if request.method == "POST":
                        check_same_origin(request)
                        form = form_data(request)
                        if not tokens_match(form.get("csrf"), session.csrf_token):
                            log.warning("admin form without a valid CSRF token", path=request.path)
                            raise Forbidden(
                                "El formulario caducó o no vino de este panel. "
                                "Vuelve a la página, recárgala e inténtalo de nuevo."
                            )
                return callback(*args, **kwargs)
            except bottle.HTTPResponse:
                raise
            except Overloaded as exc:
                # The API's English reason is for machines; an admin gets Spanish and the wait.
                bottle.response.set_header("Retry-After", str(exc.retry_after_s))
                return panel.error_page(
                    exc.status,
                    "agrochat está atendiendo a muchos productores en este momento; no se "
                    "guardó nada. Inténtalo de nuevo en unos segundos.",
                )
            except AgrochatError as exc:
                return panel.error_page(exc.status, exc.message)
            except Exception:
                log.exception("unhandled error in an admin page", route=route.rule)
                return panel.error_page(500, "Error interno. Quedó registrado en el log.")

        return wrapper


def client_address(request: bottle.BaseRequest) -> str:
    """The client's address: waitress puts the one a trusted proxy forwards in REMOTE_ADDR
    (``AGROCHAT_TRUSTED_PROXY``) and ignores X-Forwarded-For from anyone else. Bottle's
    ``remote_addr`` would believe that header from anybody."""
    return str(request.environ.get("REMOTE_ADDR", ""))


def too_many_tries(wait: float) -> str:
    if wait < 60:
        return f"Demasiados intentos fallidos. Espera {math.ceil(wait)} s y vuelve a probar."
    return f"Demasiados intentos fallidos. Espera {math.ceil(wait / 60)} min y vuelve a probar."


def check_same_origin(request: bottle.BaseRequest) -> None:
    """Browsers say whether a request comes from another site (Sec-Fetch-Site); such a POST
    is refused before its token is even looked at. Comparing Origin with Host would do the same
    but breaks behind proxies that rewrite Host; the CSRF token remains the real check."""
    if request.get_header("Sec-Fetch-Site", "").lower() == "cross-site":
        raise Forbidden("El formulario no vino de este panel.")


# -- routes --------------------------------------------------------------------------------


def install(app: bottle.Bottle, ctx: AppContext) -> None:
    from agrochat.http import (
        _admin_exports,
        _admin_pages,
        _admin_review,
        _admin_system,
        _admin_whatsapp,
    )

    panel = Panel(ctx)
    plugin = AdminPanelPlugin(panel)

    def route(rule: str, method: str = "GET", *, auth: str = "admin") -> Callable[..., Any]:
        return app.route(rule, method, apply=[plugin], auth=auth)

    @app.get("/admin/static/<filename:path>", auth="none")
    def static(filename: str) -> Any:
        response = bottle.static_file(filename, root=str(STATIC_DIR))
        if isinstance(response, bottle.HTTPError):
            raise NotFound(f"no static file {filename[:100]!r}")
        response.set_header("Cache-Control", "public, max-age=3600")
        return response

    @route("/admin/", auth="none")
    def slash() -> None:
        bottle.redirect("/admin", 303)

    @route("/admin/login", auth="none")
    def login_form() -> str:
        if panel.current_session() is not None:
            bottle.redirect("/admin", 303)
        return _login_page(panel, next_path=query_param("next"))

    @route("/admin/login", "POST", auth="none")
    def login() -> str:
        return _log_in(panel)

    @route("/admin/logout", "POST")
    def logout() -> None:
        session = panel.session()
        panel.sessions().end(session.id)
        panel.audit("admin.logout")
        panel.clear_cookie(SESSION_COOKIE)
        bottle.redirect("/admin/login?ok=logout", 303)

    @route("/admin")
    def dashboard() -> str:
        return _dashboard(panel, ctx)

    @route("/admin/audit")
    def audit_trail() -> str:
        page = page_param()
        rows, total = recent_audit(panel.db, limit=PAGE_SIZE * 2, offset=(page - 1) * PAGE_SIZE * 2)
        return panel.render(
            "audit",
            title="Auditoría",
            nav="audit",
            rows=rows,
            pager=Pager(page=page, size=PAGE_SIZE * 2, total=total),
        )

    @route("/admin/account")
    def account() -> str:
        return panel.render("account", title="Mi cuenta", nav="account")

    @route("/admin/account", "POST")
    def change_password() -> str:
        return _change_password(panel)

    _admin_pages.install(route, panel)
    _admin_whatsapp.install(route, panel)
    _admin_exports.install(route, panel)
    _admin_review.install(route, panel)
    _admin_system.install(route, panel)

    # Last: any other /admin path is a page that does not exist (HTML, after the login).
    @route("/admin/<rest:path>")
    def unknown_page(rest: str) -> str:
        raise NotFound("Esta página del panel no existe.")

    @route("/admin/<rest:path>", "POST")
    def unknown_action(rest: str) -> str:
        raise NotFound("Esta acción del panel no existe.")


def _log_in(panel: Panel) -> str:
    """The login form posted: the throttle, then the password, then a new session."""
    request = bottle.request
    check_same_origin(request)
    form = form_data(request)
    next_path = form.get("next", "")
    cookie = request.get_cookie(LOGIN_COOKIE)
    if not cookie or not tokens_match(form.get("csrf"), cookie):
        # No session yet to hold a token: the form's must equal its cookie's (double
        # submit), which another site can neither read nor set.
        raise Forbidden(
            "El formulario de acceso caducó. Vuelve a abrir la página de acceso e "
            "inténtalo de nuevo."
        )
    username = form.get("usuario", "").strip()
    password = form.get("clave", "")
    address = client_address(request)
    key = panel.password_key(username)
    # Counted before the password is checked, atomically with the check of the delay, so
    # concurrent tries cannot all slip in; forgiven below when the password is right.
    wait = panel.throttle.begin(key)
    if wait > 0:
        log.warning("admin login throttled", ip=address)
        return _login_page(
            panel,
            next_path=next_path,
            username=username,
            error=too_many_tries(wait),
            status=429,
            retry_after=math.ceil(wait),
        )
    admin_id = (
        AdminStore(panel.db).verify(username, password)
        if 0 < len(username) <= MAX_USERNAME and 0 < len(password) <= MAX_PASSWORD
        else None
    )
    if admin_id is None:
        log.warning("admin login failed", ip=address)
        return _login_page(
            panel,
            next_path=next_path,
            username=username,
            error="Usuario o contraseña incorrectos.",
            status=401,
        )
    panel.throttle.succeeded(key)
    sessions = panel.sessions()
    old = panel.current_session()
    if old is not None:
        sessions.end(old.id)
    token = sessions.create(admin_id, ip=address, user_agent=request.get_header("User-Agent", ""))
    record_audit(panel.db, actor=f"admin:{username}", action="admin.login", target=address)
    log.info("admin logged in", admin=username)
    panel.set_cookie(SESSION_COOKIE, token, max_age=int(sessions.absolute.total_seconds()))
    proof = AdminStore(panel.db).browser_proof(username)
    if proof:
        panel.set_cookie(KNOWN_BROWSER_COOKIE, proof, max_age=KNOWN_BROWSER_MAX_AGE_S)
    panel.clear_cookie(LOGIN_COOKIE)
    bottle.redirect(safe_next(next_path), 303)
    raise AssertionError("unreachable")


def _dashboard(panel: Panel, ctx: AppContext) -> str:
    span = _admin_trends.range_param(query_param("dias"))
    db = panel.db
    producers, alerts = ProducerStore(db), AlertStore(db)
    healthy, health = health_report(ctx)
    flagged, needs_human = producers.search(needs_human=True, limit=10)
    return panel.render(
        "dashboard",
        title="Resumen",
        nav="dashboard",
        producer_counts=producers.counts(),
        needs_human=needs_human,
        today=MessageStore(db).traffic(since=panel.day_start()),
        alert_counts=alerts.counts(),
        healthy=healthy,
        health=health,
        flagged=flagged,
        failed_alerts=alerts.recent(status="failed", limit=5),
        reactions=MessageStore(db).reaction_counts(
            since=panel.day_start() - dt.timedelta(days=REACTION_DAYS - 1)
        ),
        reaction_days=REACTION_DAYS,
        span=span,
        spans=_admin_trends.RANGES,
        charts=_admin_trends.charts(db, Days.ending(panel.today(), span, panel.zone)),
    )


def _change_password(panel: Panel) -> str:
    """The account page posted: the current password (throttled like the login), then the new."""
    session = panel.session()
    form = form_data(bottle.request)
    errors: dict[str, str] = {}
    current, new, again = form.get("actual", ""), form.get("nueva", ""), form.get("repetir", "")
    admins = AdminStore(panel.db)
    # The same throttle and key as the login: a stolen session cookie must not become a
    # way to guess the password without delays.
    key = panel.password_key(session.username)
    wait = panel.throttle.begin(key)
    if wait > 0:
        log.warning("admin password check throttled", admin=session.username)
        bottle.response.set_header("Retry-After", str(math.ceil(wait)))
        return panel.render(
            "account",
            status=429,
            title="Mi cuenta",
            nav="account",
            errors={"actual": too_many_tries(wait)},
        )
    if not current or len(current) > MAX_PASSWORD or not admins.verify(session.username, current):
        errors["actual"] = "No es tu contraseña actual."
    else:
        panel.throttle.succeeded(key)
    if len(new) < MIN_PASSWORD_LENGTH:
        errors["nueva"] = f"Usa al menos {MIN_PASSWORD_LENGTH} caracteres."
    elif len(new) > MAX_PASSWORD:
        errors["nueva"] = f"Usa como máximo {MAX_PASSWORD} caracteres."
    elif new != again:
        errors["repetir"] = "No coincide con la nueva contraseña."
    if errors:
        return panel.render("account", status=422, title="Mi cuenta", nav="account", errors=errors)
    with panel.db.tx():
        ended = admins.set_password(session.username, new, keep_session=session.id)
        panel.audit("admin.password_changed", ended_sessions=ended)
    bottle.redirect("/admin/account?ok=clave", 303)
    raise AssertionError("unreachable")


def _login_page(
    panel: Panel,
    *,
    next_path: str,
    username: str = "",
    error: str | None = None,
    status: int = 200,
    retry_after: int | None = None,
) -> str:
    token = bottle.request.get_cookie(LOGIN_COOKIE) or ""
    if not re.fullmatch(r"[A-Za-z0-9_\-]{20,100}", token):
        token = new_token()
        panel.set_cookie(LOGIN_COOKIE, token)
    if retry_after is not None:
        bottle.response.set_header("Retry-After", str(retry_after))
    return panel.render(
        "login",
        status=status,
        title="Acceso",
        login_csrf=token,
        next_path=safe_next(next_path) if next_path else "",
        username=username,
        error=error,
    )
