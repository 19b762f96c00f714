"""Reader pages (/read/): who may read them. The sign-in form and its strict, httponly
read-key cookie, bearer keys, public reading, topic-restricted keys and supplied content, over
real sockets with the API's worker, the LLM stub and a real PostgreSQL."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from http.cookies import SimpleCookie
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest

from service.keys import service as keys
from tests.support import reader_pages
from tests.support.clients import connected
from tests.support.reader_pages import PUBLIC_URL, doc, origin, public_reader_api, sign_in, texts
from tests.support.reader_world import RAIL_SIGNALS

pytestmark = pytest.mark.timeout(300)


# The API with its worker and the world it serves (signals, stories, keys): fixtures of
# tests/support/reader_pages.py, this module's own.
api, world = reader_pages.api, reader_pages.world


@pytest.fixture(scope="module")
def public_api(make_settings: Any) -> Iterator[str]:
    with public_reader_api(make_settings) as base:
        yield base


# --- access -------------------------------------------------------------------------------------


async def test_without_a_key_each_page_sends_the_reader_to_the_sign_in_form(api, world):
    async with httpx.AsyncClient(base_url=api) as http:
        for path in ("/read/", f"/read/signals/{world.showcase}", "/read/topics/rail?x=1",
                     f"/read/stories/{world.story}", f"/read/digests/{world.digest['id']}"):  # fmt: skip
            answer = await http.get(path)
            assert answer.status_code == 303, path
            assert answer.headers["location"] == "/read/login?" + urlencode({"next": path})
            assert "set-cookie" not in answer.headers
            form_page = await http.get(answer.headers["location"])
            assert form_page.status_code == 200
            assert form_page.headers["content-type"].startswith("text/html")
            form = doc(form_page).xpath("//form[@action='/read/login']")[0]
            assert form.get("method") == "post"
            assert form.xpath(".//input[@name='next']/@value") == [path]
            assert form.xpath(".//input[@name='key']/@type") == ["password"]


async def test_a_revoked_key_in_the_cookie_is_forgotten(api, world, database_url):
    async with connected(database_url) as conn:
        doomed = await keys.create_key(conn, name="doomed", scopes=["signals:read"])
    async with sign_in(api, doomed.key) as http:
        assert (await http.get("/read/")).status_code == 200
        async with connected(database_url) as conn:
            await keys.revoke_key(conn, str(doomed.id))
        answer = await http.get("/read/")
        # the key cache may still hold it for a moment; once refused, it is cleared
        for _ in range(50):
            if answer.status_code == 303:
                break
            await asyncio.sleep(0.2)
            answer = await http.get("/read/")
        assert answer.status_code == 303
        assert "refused=1" in answer.headers["location"]
        assert SimpleCookie(answer.headers["set-cookie"])["signals_read_key"]["max-age"] == "0"
        form_page = await http.get(answer.headers["location"])
        assert doc(form_page).xpath("//*[@role='alert']")


async def test_signing_in_keeps_the_key_in_a_strict_httponly_cookie_never_in_a_url(api, world):
    async with httpx.AsyncClient(base_url=api) as http:
        target = f"/read/signals/{world.showcase}"
        answer = await http.post(
            "/read/login", data={"key": world.reader, "next": target}, headers=origin(api)
        )
        assert answer.status_code == 303
        assert answer.headers["location"] == target
        header = answer.headers["set-cookie"]
        cookie = SimpleCookie(header)["signals_read_key"]
        assert cookie.value == world.reader
        assert cookie["httponly"] and cookie["samesite"].lower() == "strict" and cookie["path"] == "/read"
        assert not cookie["secure"]  # plain http on loopback; see the https test below
        assert world.reader not in answer.headers["location"]
        page = await http.get(target)
        assert page.status_code == 200
        assert world.reader not in page.text


async def test_the_cookie_is_secure_when_the_public_url_is_https(public_api, world):
    async with httpx.AsyncClient(base_url=public_api) as http:
        answer = await http.post("/read/login", data={"key": world.reader}, headers={"Origin": PUBLIC_URL})
        assert answer.status_code == 303
        assert SimpleCookie(answer.headers["set-cookie"])["signals_read_key"]["secure"]


@pytest.mark.parametrize(
    "headers",
    [{"Origin": "https://evil.example"}, {"Origin": "null"}, {}, {"Sec-Fetch-Site": "cross-site"}],
    ids=["other-origin", "opaque-origin", "no-origin", "cross-site-fetch"],
)
async def test_sign_in_and_out_refuse_posts_from_other_sites(api, world, headers):
    async with httpx.AsyncClient(base_url=api) as http:
        for path in ("/read/login", "/read/logout"):
            answer = await http.post(path, data={"key": world.reader}, headers=headers)
            assert answer.status_code == 403, path
            assert "set-cookie" not in answer.headers


async def test_a_same_origin_fetch_without_origin_header_may_sign_in(api, world):
    async with httpx.AsyncClient(base_url=api) as http:
        answer = await http.post(
            "/read/login", data={"key": world.reader}, headers={"Sec-Fetch-Site": "same-origin"}
        )
        assert answer.status_code == 303


@pytest.mark.parametrize("key", ["sk_live_nonsense", "", "x" * 500])
async def test_a_refused_key_shows_the_form_again_without_a_cookie(api, world, key):
    async with httpx.AsyncClient(base_url=api) as http:
        answer = await http.post("/read/login", data={"key": key}, headers=origin(api))
        assert answer.status_code == 401
        assert "set-cookie" not in answer.headers
        assert answer.headers["www-authenticate"].startswith("Bearer")
        assert doc(answer).xpath("//*[@role='alert']")


async def test_programs_may_read_the_pages_with_a_bearer_header(api, world):
    async with httpx.AsyncClient(base_url=api) as http:
        good = await http.get(
            f"/read/signals/{world.showcase}", headers={"Authorization": f"Bearer {world.reader}"}
        )
        assert good.status_code == 200 and "set-cookie" not in good.headers
        bad = await http.get(
            f"/read/signals/{world.showcase}", headers={"Authorization": "Bearer sk_live_wrong"}
        )
        assert bad.status_code == 401 and bad.headers["www-authenticate"].startswith("Bearer")
        assert bad.headers["content-type"].startswith("text/html")


async def test_a_key_without_read_scope_is_refused(api, world):
    async with httpx.AsyncClient(base_url=api) as http:
        answer = await http.post("/read/login", data={"key": world.no_read}, headers=origin(api))
        assert answer.status_code == 403
        assert "set-cookie" not in answer.headers


async def test_sign_out_forgets_the_key(api, world):
    async with sign_in(api, world.reader) as http:
        assert (await http.get("/read/")).status_code == 200
        answer = await http.post("/read/logout", headers=origin(api))
        assert answer.status_code == 303
        assert SimpleCookie(answer.headers["set-cookie"])["signals_read_key"]["max-age"] == "0"
        http.cookies.clear()
        assert (await http.get("/read/")).status_code == 303


@pytest.mark.parametrize(
    "target", ["https://evil.example/", "//evil.example/x", "/\\evil.example", "/v1/signals"]
)
async def test_after_sign_in_only_reader_pages_are_destinations(api, world, target):
    async with httpx.AsyncClient(base_url=api) as http:
        answer = await http.post(
            "/read/login", data={"key": world.reader, "next": target}, headers=origin(api)
        )
        assert answer.headers["location"] == "/read/"


async def test_public_read_needs_no_key_and_shows_public_content_only(public_api, world):
    async with httpx.AsyncClient(base_url=public_api) as http:
        assert (await http.get(f"/read/signals/{world.showcase}")).status_code == 200
        assert (await http.get(f"/read/signals/{world.supplied}")).status_code == 404


# --- visibility as on the JSON reads --------------------------------------------------------------


async def test_a_topic_restricted_key_reads_only_its_topics(api, world):
    async with sign_in(api, world.restricted) as http:
        front = doc(await http.get("/read/"))
        listed = texts(front, "//ul[@class='items']//h3")
        assert sorted(listed) == sorted(title for title, _ in RAIL_SIGNALS)
        assert (await http.get(f"/read/signals/{world.rail[1]}")).status_code == 200
        hidden = await http.get(f"/read/signals/{world.showcase}")
        assert hidden.status_code == 404 and "text/html" in hidden.headers["content-type"]
        assert (await http.get("/read/topics/water-networks")).status_code == 404
        assert (await http.get(f"/read/stories/{world.story}")).status_code == 404


async def test_supplied_content_is_its_suppliers_only(api, world):
    async with sign_in(api, world.reader) as reader, sign_in(api, world.writer) as writer:
        assert (await writer.get(f"/read/signals/{world.supplied}")).status_code == 200
        assert (await reader.get(f"/read/signals/{world.supplied}")).status_code == 404
        listed = doc(await reader.get("/read/")).xpath("//ul[@class='items']//h3/a/@href")
        assert f"/read/signals/{world.supplied}" not in listed
