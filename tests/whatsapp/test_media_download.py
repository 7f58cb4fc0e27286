"""Downloading a producer's file from each gateway (the fakes on 127.0.0.1): with the
gateway's credentials, within the size limit counted as the bytes arrive, and with errors that
say whether trying again later can help."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from agrochat.actors.whatsapp import CloudClient, WahaClient
from agrochat.errors import BadMedia, MediaUnavailable
from tests.whatsapp.fake_graph import API_VERSION, PHONE_NUMBER_ID, TOKEN, FakeGraph
from tests.whatsapp.fake_waha import API_KEY, FakeWaha

ROSA = "51987654321"
AUDIO = b"OggS" + bytes(range(256)) * 16  # 4 KiB


@pytest.fixture
def waha(fake_waha: FakeWaha) -> Iterator[WahaClient]:
    client = WahaClient(fake_waha.url, api_key=API_KEY)
    yield client
    client.close()


@pytest.fixture
def cloud(fake_graph: FakeGraph) -> Iterator[CloudClient]:
    client = CloudClient(
        PHONE_NUMBER_ID, token=TOKEN, api_version=API_VERSION, base_url=fake_graph.url
    )
    yield client
    client.close()


def _waha_file(fake: FakeWaha) -> str:
    envelope = fake.push_voice(ROSA, AUDIO)
    return str(envelope["payload"]["media"]["url"]).removeprefix(fake.url)


def test_a_waha_file_comes_with_the_key_and_its_bare_type(
    fake_waha: FakeWaha, waha: WahaClient
) -> None:
    media = waha.download_media(_waha_file(fake_waha), max_bytes=len(AUDIO))
    assert media.content == AUDIO and media.mimetype == "audio/ogg"
    [call] = fake_waha.file_calls()
    assert call.key == API_KEY


@pytest.mark.parametrize("chunked", [False, True], ids=["declared", "chunked"])
def test_a_file_over_the_limit_is_refused_declared_or_not(
    fake_waha: FakeWaha, waha: WahaClient, chunked: bool
) -> None:
    fake_waha.chunked_files = chunked
    with pytest.raises(BadMedia) as refused:
        waha.download_media(_waha_file(fake_waha), max_bytes=len(AUDIO) - 1)
    assert refused.value.reason == "too_big"


@pytest.mark.parametrize(
    ("status", "retryable"), [(500, True), (503, True), (404, False), (403, False)]
)
def test_a_failed_waha_download_says_whether_to_try_again(
    fake_waha: FakeWaha, waha: WahaClient, status: int, retryable: bool
) -> None:
    path = _waha_file(fake_waha)
    fake_waha.media_error = status
    with pytest.raises(MediaUnavailable) as failed:
        waha.download_media(path, max_bytes=len(AUDIO))
    assert failed.value.retryable is retryable


def test_only_waha_file_paths_are_fetched(fake_waha: FakeWaha, waha: WahaClient) -> None:
    with pytest.raises(MediaUnavailable) as refused:
        waha.download_media("/api/sessions/default", max_bytes=1024)
    assert refused.value.retryable is False
    assert fake_waha.calls == []


def test_an_unreachable_waha_is_worth_trying_again() -> None:
    client = WahaClient("http://127.0.0.1:9", api_key=API_KEY)
    try:
        with pytest.raises(MediaUnavailable) as failed:
            client.download_media(f"/api/files/default/false_{ROSA}@c.us_3EB0.oga", max_bytes=9)
    finally:
        client.close()
    assert failed.value.retryable is True


def test_a_cloud_file_is_looked_up_then_downloaded_with_the_token(
    fake_graph: FakeGraph, cloud: CloudClient
) -> None:
    media_id = fake_graph.add_media(AUDIO, "audio/ogg")
    media = cloud.download_media(media_id, max_bytes=len(AUDIO))
    assert media.content == AUDIO and media.mimetype == "audio/ogg"
    assert [r.authorization for r in fake_graph.media_requests()] == [f"Bearer {TOKEN}"] * 2


def test_a_cloud_file_bigger_than_the_limit_is_not_even_downloaded(
    fake_graph: FakeGraph, cloud: CloudClient
) -> None:
    media_id = fake_graph.add_media(AUDIO, "audio/ogg")
    with pytest.raises(BadMedia):
        cloud.download_media(media_id, max_bytes=1024)
    # Only the lookup: its file_size was enough to refuse.
    assert len(fake_graph.media_requests()) == 1


@pytest.mark.parametrize(("status", "retryable"), [(500, True), (404, False)])
def test_a_failed_cloud_download_says_whether_to_try_again(
    fake_graph: FakeGraph, cloud: CloudClient, status: int, retryable: bool
) -> None:
    media_id = fake_graph.add_media(AUDIO)
    fake_graph.media_error = status
    with pytest.raises(MediaUnavailable) as failed:
        cloud.download_media(media_id, max_bytes=len(AUDIO))
    assert failed.value.retryable is retryable
