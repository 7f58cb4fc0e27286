"""Command line: ``agrochat serve | chat | admin | bench``."""

from __future__ import annotations

import argparse
import os
import runpy
import signal
import sys
from collections.abc import Sequence
from pathlib import Path

from agrochat import logs
from agrochat.config import Config, settings_help
from agrochat.errors import AgrochatError, ConfigError


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="agrochat", description="WhatsApp agricultural advisor for small producers."
    )
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser(
        "serve",
        help="run agrochat: HTTP API, admin panel, actors",
        description="Run agrochat until SIGTERM/SIGINT. SIGUSR1 logs every thread's traceback.",
        epilog=settings_help(),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    chat = sub.add_parser(
        "chat",
        help="talk to agrochat in this terminal as one producer",
        epilog=settings_help(),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    chat.add_argument("--phone", required=True, help="the producer's phone, e.g. 51987654321")
    admin = sub.add_parser("admin", help="manage admin panel users")
    admin_sub = admin.add_subparsers(dest="admin_command", required=True)
    add = admin_sub.add_parser("add", help="create an admin, or reset an admin's password")
    add.add_argument("username")
    add.add_argument(
        "--password-stdin", action="store_true", help="read the password from standard input"
    )
    remove = admin_sub.add_parser("remove", help="remove an admin and end their sessions")
    remove.add_argument("username")
    bench = sub.add_parser("bench", help="run a benchmark from bench/ and print its table")
    bench.add_argument("name", help="benchmark name, e.g. inference or sessions")
    bench.add_argument("args", nargs=argparse.REMAINDER)
    return parser


def _serve(config: Config) -> int:
    import pykka.debug

    from agrochat.app import Agrochat

    app = Agrochat(config, announce=sys.stderr)
    signal.signal(signal.SIGTERM, lambda *_: app.stopped.set())
    signal.signal(signal.SIGINT, lambda *_: app.stopped.set())
    # Each thread's stack, at CRITICAL on the "pykka" logger, which logs.configure routes.
    signal.signal(signal.SIGUSR1, pykka.debug.log_thread_tracebacks)
    app.start()
    app.stopped.wait()
    app.stop()
    if app.exit_reason:
        logs.get_logger("agrochat").error("exiting: supervisor gave up", reason=app.exit_reason)
        return 1
    return 0


def _chat(config: Config, phone: str) -> int:
    from agrochat.terminal import run_terminal_chat

    return run_terminal_chat(config, phone, stdin=sys.stdin, stdout=sys.stdout)


def _admin(config: Config, command: str, username: str, password_stdin: bool) -> int:
    import getpass

    from agrochat.persistence import AdminStore, open_database, record_audit
    from agrochat.private_files import private_dir

    password = ""
    if command == "add":
        if password_stdin:
            password = sys.stdin.readline().rstrip("\n")
        else:
            password = getpass.getpass("password: ")
            if password != getpass.getpass("again: "):
                print("passwords differ", file=sys.stderr)
                return 2
    private_dir(config.data_path)
    db = open_database(config.effective_database_url)
    try:
        admins = AdminStore(db)
        with db.tx():
            if command == "add":
                ended = admins.set_password(username, password)
                action = "admin.password_set"
            else:
                removed = admins.remove(username)
                if removed is None:
                    print(f"agrochat: no admin named {username!r}", file=sys.stderr)
                    return 1
                ended, action = removed, "admin.removed"
            record_audit(
                db, actor="cli", action=action, target=username, details={"ended_sessions": ended}
            )
    finally:
        db.close()
    done = "saved" if command == "add" else "removed"
    print(f"admin {username!r} {done}; sessions ended: {ended}")
    return 0


def _bench(name: str, args: Sequence[str]) -> int:
    path = Path("bench") / f"{name}.py"
    if not path.is_file():
        print(f"no benchmark {path} (run from the repository root)", file=sys.stderr)
        return 2
    sys.argv = [str(path), *args]
    runpy.run_path(str(path), run_name="__main__")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        config = Config.from_env(os.environ)
    except ConfigError as exc:
        print(f"agrochat: {exc}", file=sys.stderr)
        return 2
    logs.configure(level=config.log_level, fmt=config.log_format, secrets=config.secrets())
    try:
        if args.command == "serve":
            return _serve(config)
        if args.command == "chat":
            return _chat(config, args.phone)
        if args.command == "admin":
            return _admin(
                config,
                args.admin_command,
                args.username,
                getattr(args, "password_stdin", False),
            )
        return _bench(args.name, args.args)
    except AgrochatError as exc:
        print(f"agrochat: {exc.message}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
