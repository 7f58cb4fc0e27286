"""GatewayState: what /health and the panel say about each of our numbers, in fixed words."""

from __future__ import annotations

from agrochat.actors.whatsapp import GatewayState, StreamStatus


def _stream(state: str, session: str = "default", detail: str | None = None) -> StreamStatus:
    return StreamStatus(
        session=session,
        state=state,  # type: ignore[arg-type]
        since=0.0,
        detail=detail,
        attempts=1,
        connects=0,
        failures=0,
        retry_in_s=None,
        events=0,
        callback_errors=0,
    )


def test_a_number_works_when_its_socket_is_connected_and_its_session_working() -> None:
    state = GatewayState([("default", "waha")])
    assert state.health() == (False, "waha default: connecting")
    state.stream_changed(_stream("connected"))
    assert state.health() == (False, "waha default: starting")
    state.session_changed("default", "WORKING", me="51900000001")
    assert state.health() == (True, "waha default: working")


def test_a_refused_key_is_named_and_red_without_the_gateways_words() -> None:
    state = GatewayState([("default", "waha")])
    state.stream_changed(_stream("bad_api_key", detail="WAHA closed the websocket with 1008"))
    ok, detail = state.health()
    assert not ok and detail == "waha default: bad_api_key"
    status = state.get("default")
    assert status is not None and status.red
    assert status.detail == "WAHA closed the websocket with 1008"  # for the panel only


def test_waiting_for_the_qr_is_a_problem_but_not_red() -> None:
    state = GatewayState([("default", "waha")])
    state.stream_changed(_stream("connected"))
    state.session_changed("default", "SCAN_QR_CODE")
    status = state.get("default")
    assert status is not None and status.problem == "scan_qr_code" and not status.red
    state.session_changed("default", "FAILED")
    assert state.get("default").red  # type: ignore[union-attr]


def test_every_number_is_reported_and_one_down_makes_the_gateway_unhealthy() -> None:
    state = GatewayState([("norte", "waha"), ("sur", "waha")])
    for name in ("norte", "sur"):
        state.stream_changed(_stream("connected", session=name))
        state.session_changed(name, "WORKING")
    assert state.health() == (True, "waha norte: working; waha sur: working")
    state.stream_changed(_stream("reconnecting", session="sur"))
    assert state.health() == (False, "waha norte: working; waha sur: disconnected")


def test_a_cloud_number_has_no_connection_to_watch() -> None:
    assert GatewayState([("1234", "cloud")]).health() == (True, "cloud 1234: working")


def test_a_session_another_process_owns_is_standby_and_no_problem() -> None:
    state = GatewayState([("norte", "waha"), ("sur", "waha")])
    state.stream_changed(_stream("connected", session="norte"))
    state.session_changed("norte", "WORKING")
    state.standby_changed("sur", True)
    assert state.health() == (True, "waha norte: working; waha sur: standby")
    state.standby_changed("sur", False)  # taken over: now its connection counts
    assert state.health() == (False, "waha norte: working; waha sur: connecting")
