"""The web page under hostile or careless requests: every route answers 4xx, never 5xx, and each
security rule holds (sessions, sign-in limit, Host names, headers, body limits, previews, paths)."""

import io
import json
import re
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from PIL import Image
from typer.testing import CliRunner

from prismarec.cli.main import app as cli
from prismarec.studio.web import create_app

from .test_web_api import sign_in

WRONG = [None, True, -1, 10**20, 1.5, "abc", "", [], {}, [1, 2], {"a": {"b": [None]}}, "<img src=x onerror=alert(1)>"]


@pytest.fixture
def client(site):
    return TestClient(create_app(site["db_url"], backbone="efficientnet-lite0", hosts=("testserver",)))


def test_no_route_answers_5xx_to_wrong_types_and_shapes(client, site):
    csrf = sign_in(client, site)
    headers = {"X-CSRF-Token": csrf}
    rid, pid = site["renders"][0], site["photos"]["chelsea"]
    posts = {"/api/preview": {"photo_id": pid, "params": {"layer": None, "size": 64}},
             "/api/render": {"photo_id": pid, "params": {"layer": None, "size": 64}},
             "/api/verdicts": {"render_ids": [rid], "verdict": "good", "score": 4, "note": "x"},
             f"/api/renders/{rid}/verdict": {"verdict": "good", "score": 4, "note": "x"}}
    statuses = []
    for url, good in posts.items():
        for key in good:
            for wrong in WRONG:
                resp = client.post(url, json={**good, key: wrong}, headers=headers)
                statuses.append(resp.status_code)
                assert resp.status_code < 500, (url, key, wrong, resp.text)
        for raw in (b"", b"{", b"[]", b"null", b"\xff\xfe", json.dumps([good]).encode()):
            resp = client.post(url, content=raw, headers={**headers, "content-type": "application/json"})
            assert 400 <= resp.status_code < 500, (url, raw, resp.text)
    gets = ["/?page_no=99999999999999999999", "/?guide=abc", "/?photo=-5", "/?sort=%00", "/tune/1?params=nope",
            "/tune/1?params=[1]", "/tune/1?params={\"n1\":-4}", "/tune/999999", "/render/abc", "/sheet/99999999",
            "/similar/999", "/files/photo/1?w=0", "/files/photo/1?w=99999999999", "/api/recommend/abc",
            "/api/recommend/1?curator=nobody", "/render/99999999999999999999999",
            "/tune/1?params=" + "[" * 5000 + "]" * 5000]
    for url in gets:
        resp = client.get(url)
        assert 200 <= resp.status_code < 500, (url, resp.text)
    assert 422 in statuses  # the fuzzing reached validation, not only the sign-in check


def test_errors_are_pages_for_browsers_and_json_for_the_api(client):
    page = client.get("/render/999", headers={"accept": "text/html"})
    assert page.status_code == 404 and "<html" in page.text and "no render 999" in page.text
    api = client.get("/api/recommend/999")
    assert api.status_code == 404 and api.json()["detail"] == "no photo 999"


def test_previews_need_a_curator_and_a_small_budget(client, site):
    body = {"photo_id": site["photos"]["chelsea"], "params": {"layer": None, "size": 64}}
    assert client.post("/api/preview", json=body).status_code == 401
    client.headers["X-CSRF-Token"] = sign_in(client, site)
    assert client.post("/api/preview", json=body).status_code == 200
    costly = {**body, "params": {"size": 480, "iter_n": 5000, "octave_n": 12, "layer": "inception_4c/output"}}
    refused = client.post("/api/preview", json=costly)
    detail = refused.json()["detail"]
    assert refused.status_code == 422 and "preview's 5 s" in detail and "--max-seconds" not in detail


def test_signing_out_revokes_the_session_and_the_cookie_is_not_the_token(client, site):
    csrf = sign_in(client, site)
    cookie = next(iter(client.cookies.values()))
    assert cookie != site["token"]
    assert client.post("/logout", data={"csrf": csrf}, follow_redirects=False).status_code == 303
    stale = TestClient(client.app, cookies={"prismarec_session": cookie})
    resp = stale.post(f"/api/renders/{site['renders'][0]}/verdict", json={"verdict": "good"},
                      headers={"X-CSRF-Token": csrf})
    assert resp.status_code == 401


def test_sign_in_is_rate_limited(client, site):
    for _ in range(5):
        client.post("/login", data={"token": "guess"}, follow_redirects=False)
    assert client.post("/login", data={"token": site["token"]}, follow_redirects=False).status_code == 429


def test_other_host_names_are_refused_and_security_headers_are_set(client):
    assert client.get("/", headers={"host": "evil.example"}).status_code == 400
    resp = client.get("/")
    assert "frame-ancestors 'none'" in resp.headers["content-security-policy"]
    assert resp.headers["x-frame-options"] == "DENY" and resp.headers["x-content-type-options"] == "nosniff"


def test_bodies_over_the_limit_are_refused_before_reading(client, site):
    csrf = sign_in(client, site)
    big = client.post("/api/verdicts", content=b"x" * (2 * 1024 * 1024),
                      headers={"X-CSRF-Token": csrf, "content-type": "application/json"})
    assert big.status_code == 413
    anonymous = TestClient(client.app)
    upload = anonymous.post("/api/upload", content=b"x" * 1000, headers={"content-length": str(200 * 1024 * 1024),
                                                                           "content-type": "multipart/form-data"})
    assert upload.status_code == 401


def test_error_messages_never_show_server_paths(client, site, tmp_path, data_home):
    csrf = sign_in(client, site)
    broken = io.BytesIO()
    Image.new("RGB", (64, 48), "red").save(broken, format="PNG")
    truncated = broken.getvalue()[:-30]  # header fine, data cut: decoding fails after the header checks
    resp = client.post("/api/upload", data={"csrf": csrf}, files={"photo": ("t.png", truncated, "image/png")})
    assert 400 <= resp.status_code < 500
    assert str(tmp_path) not in resp.text and "/uploads/" not in resp.text
    assert not any((data_home / "uploads").iterdir())  # the refused upload left no file behind


def test_no_user_text_reaches_an_html_sink():
    script = (Path(create_app.__code__.co_filename).parent / "static" / "app.js").read_text()
    assert not re.search(r"\.(innerHTML|outerHTML)\s*=|insertAdjacentHTML|document\.write", script)


def test_cli_and_web_give_the_same_recommendation(client, site, monkeypatch):
    monkeypatch.setenv("PRISMAREC_DB", site["db_url"])
    photo = site["photos"]["coffee"]
    web = client.get(f"/api/recommend/{photo}").json()
    with site["catalog"].db.session() as s:
        from prismarec.db import Photo

        path = s.get(Photo, photo).path
    res = CliRunner().invoke(cli, ["recommend", path, "--json", "--backbone", "efficientnet-lite0"])
    assert res.exit_code == 0, res.output
    answer = json.loads(res.stdout[res.stdout.index("{"):])
    assert answer["params"] == web["params"] and answer["source"] == web["source"]
    assert answer["confidence"] == web["confidence"] and answer["explanation"] == web["explanation"]


def test_a_newer_preview_stops_the_one_still_running(client, site, monkeypatch):
    import threading

    from prismarec.renderer import pipeline

    dreaming = threading.Event()
    real = pipeline.render_preview

    def signalling(*args, on_step=None, **kwargs):
        def step():
            dreaming.set()
            on_step()

        return real(*args, on_step=step, **kwargs)

    monkeypatch.setattr(pipeline, "render_preview", signalling)
    client.headers["X-CSRF-Token"] = sign_in(client, site)
    photo = site["photos"]["chelsea"]
    slow = {"photo_id": photo, "params": {"iter_n": 30, "octave_n": 2, "layer": "conv2/3x3"}}
    answers = {}
    first = threading.Thread(target=lambda: answers.setdefault("first", client.post("/api/preview", json=slow)))
    first.start()
    assert dreaming.wait(30)  # the first preview is dreaming now
    answers["second"] = client.post("/api/preview", json={"photo_id": photo, "params": {"layer": None}})
    first.join()
    assert answers["first"].status_code == 409 and answers["second"].status_code == 200
