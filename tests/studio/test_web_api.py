import io
import re
import time

import pytest
from fastapi.testclient import TestClient
from PIL import Image
from sqlalchemy import func, select

from prismarec.db import Render
from prismarec.db.store import current_verdicts
from prismarec.renderer.params import RenderParams
from prismarec.studio.web import create_app


@pytest.fixture
def client(site):
    return TestClient(create_app(site["db_url"], backbone="efficientnet-lite0", hosts=("testserver",)))


def sign_in(client, site) -> str:
    assert client.post("/login", data={"token": site["token"]}, follow_redirects=False).status_code == 303
    return re.search(r'name="csrf" content="([0-9a-f]+)"', client.get("/").text).group(1)


def test_pages_render_for_everyone(client, site):
    page = client.get("/")
    assert page.status_code == 200 and "read-only" in page.text
    assert all(f'/render/{r}"' in page.text for r in site["renders"])
    review = client.get(f"/render/{site['renders'][1]}")
    assert review.status_code == 200 and "conv2/3x3_reduce" in review.text and "/files/guide/" in review.text
    assert client.get(f"/tune/{site['photos']['chelsea']}").status_code == 200
    assert client.get("/render/9999").status_code == 404


def test_gallery_filters_and_sorts(client, site):
    good = client.get("/?verdict=good").text
    assert f'/render/{site["good"]}"' in good and f'/render/{site["renders"][0]}"' not in good
    untagged = client.get("/?verdict=untagged").text
    assert f'/render/{site["good"]}"' not in untagged and f'/render/{site["renders"][0]}"' in untagged
    by_mask = client.get("/?mask=stdmean").text
    assert by_mask.count('class="card"') == 1
    assert client.get(f"/?guide={site['guide']}").text.count('class="card"') == 1
    assert client.get("/?name=coffee").text.count('class="card"') == 1  # photos found by file name
    ranked = client.get("/?sort=score").text
    assert ranked.index(f'/render/{site["good"]}"') < ranked.index(f'/render/{site["renders"][0]}"')
    curate_next = client.get("/?sort=next").text  # renders of uncurated photos only, novel photos first
    assert all(f'/render/{r}"' in curate_next for r in site["renders"])
    assert f'/render/{site["good"]}"' not in curate_next


def test_tagging_needs_a_token_and_csrf(client, site):
    rid = site["renders"][0]
    assert client.post(f"/api/renders/{rid}/verdict", json={"verdict": "good"}).status_code == 401
    csrf = sign_in(client, site)
    assert client.post(f"/api/renders/{rid}/verdict", json={"verdict": "good"}).status_code == 403
    assert client.post(f"/api/renders/{rid}/verdict", json={"verdict": "good"},
                       headers={"X-CSRF-Token": "0" * 64}).status_code == 403
    ok = client.post(f"/api/renders/{rid}/verdict", json={"verdict": "bad", "score": 2},
                     headers={"X-CSRF-Token": csrf})
    assert ok.status_code == 200
    with site["catalog"].db.session() as s:
        assert current_verdicts(s, rid) == [("ann", "bad", 2, None)]
    bad = client.post(f"/api/renders/{rid}/verdict", json={"verdict": "meh"}, headers={"X-CSRF-Token": csrf})
    assert bad.status_code == 422


def test_bulk_tagging(client, site):
    csrf = sign_in(client, site)
    resp = client.post("/api/verdicts", json={"render_ids": site["renders"], "verdict": "good"},
                       headers={"X-CSRF-Token": csrf})
    assert resp.status_code == 200
    with site["catalog"].db.session() as s:
        assert all(current_verdicts(s, r)[0][:2] == ("ann", "good") for r in site["renders"])


def test_preview_is_a_small_png_that_follows_the_controls(client, site):
    csrf = sign_in(client, site)
    client.headers["X-CSRF-Token"] = csrf
    body = {"photo_id": site["photos"]["chelsea"], "guide_id": site["guide"],
            "params": {"size": 480, "layer": None, "n2": 10}}
    first = client.post("/api/preview", json=body)
    assert first.status_code == 200 and first.headers["content-type"] == "image/png"
    assert Image.open(io.BytesIO(first.content)).size == (192, 128)  # chelsea is 451x300
    body["params"]["dd"] = False
    assert client.post("/api/preview", json=body).content != first.content
    body["params"]["n1"] = 0
    assert client.post("/api/preview", json=body).status_code == 422


def finished(client, job_id: int, timeout: float = 60) -> dict:
    """The job once it has ended (the page polls the same route)."""
    deadline = time.time() + timeout
    while (job := client.get(f"/api/jobs/{job_id}").json())["state"] in ("queued", "running"):
        assert time.time() < deadline, job
        time.sleep(0.1)
    return job


def test_render_and_sweep_from_the_tune_page_are_jobs(client, site):
    csrf = sign_in(client, site)
    body = {"photo_id": site["photos"]["coffee"], "params": {"size": 64, "iter_n": 1, "octave_n": 1, "n2": 12}}
    made = client.post("/api/render", json=body, headers={"X-CSRF-Token": csrf})
    assert made.status_code == 200
    job = finished(client, made.json()["job"])
    assert job["kind"] == "render" and job["state"] == "finished" and job["done"] == job["total"] == 1
    with site["catalog"].db.session() as s:
        assert '"n2": 12' in s.get(Render, job["result"]["render_id"]).params
        before = s.scalar(select(func.count(Render.id)))
    body["params"]["n2"] = 14  # a fresh neighbourhood: nothing in it is rendered yet
    sweep = client.post("/api/sweep", json=body, headers={"X-CSRF-Token": csrf}).json()
    assert sweep["queued"] >= 6
    job = finished(client, sweep["job"])
    assert job["state"] == "finished" and job["result"]["rendered"] == sweep["queued"]
    with site["catalog"].db.session() as s:
        assert s.scalar(select(func.count(Render.id))) == before + sweep["queued"]
    sheet = client.get(job["result"]["sheet"]).text  # the sweep's own renders, not the photo's others
    shown = {int(n) for n in re.findall(r'href="/render/(\d+)"', sheet)}
    assert shown == set(job["result"]["render_ids"]) and len(shown) == sweep["queued"]


def test_a_render_job_can_be_cancelled_and_leaves_nothing(client, site):
    csrf = sign_in(client, site)
    with site["catalog"].db.session() as s:
        before = s.scalar(select(func.count(Render.id)))
    body = {"photo_id": site["photos"]["coffee"], "params": {"size": 480, "iter_n": 60, "octave_n": 4}}
    job_id = client.post("/api/render", json=body, headers={"X-CSRF-Token": csrf}).json()["job"]
    assert client.post(f"/api/jobs/{job_id}/cancel", headers={"X-CSRF-Token": csrf}).status_code == 200
    assert finished(client, job_id)["state"] == "cancelled"
    with site["catalog"].db.session() as s:
        assert s.scalar(select(func.count(Render.id))) == before


def test_similar_page_offers_the_neighbours_parameters(client, site):
    page = client.get(f"/similar/{site['photos']['coffee']}")
    assert page.status_code == 200 and "Apply these parameters" in page.text
    assert "%22n2%22%3A%2040" in page.text.replace("%22n2%22%3A+40", "%22n2%22%3A%2040")


@pytest.mark.parametrize("url", ["/files/render/..%2F..%2F..%2Fetc%2Fpasswd", "/files/../../etc/passwd",
                                 "/static/..%2F..%2Fpyproject.toml", "/files/secret/1", "/files/photo/999"])
def test_paths_outside_the_data_never_served(client, url):
    resp = client.get(url)
    assert resp.status_code in (404, 422) and "root:" not in resp.text and "[project]" not in resp.text


def _claims(width: int, height: int) -> bytes:
    """A small PNG whose header claims `width` x `height` pixels (a decompression bomb's header)."""
    import struct
    import zlib

    buf = io.BytesIO()
    Image.new("L", (8, 8)).save(buf, format="PNG")
    data = bytearray(buf.getvalue())
    ihdr = data[12:29]  # chunk type and data: b"IHDR", width, height, depth, colour, ...
    ihdr[4:12] = struct.pack(">II", width, height)
    data[12:29] = ihdr
    data[29:33] = struct.pack(">I", zlib.crc32(bytes(ihdr)))
    return bytes(data)


def test_uploads_are_checked_before_decoding(client, site):
    files = {"photo": ("p.png", b"", "image/png")}
    assert client.post("/api/upload", files=files).status_code == 401
    csrf = sign_in(client, site)
    not_image = client.post("/api/upload", data={"csrf": csrf}, files={"photo": ("x.png", b"hello", "image/png")})
    assert not_image.status_code == 415
    huge = io.BytesIO()
    Image.new("1", (9000, 9000)).save(huge, format="PNG")  # tiny file, 81 megapixels
    too_big = client.post("/api/upload", data={"csrf": csrf}, files={"photo": ("h.png", huge.getvalue(), "image/png")})
    assert too_big.status_code == 413 and "pixels" in too_big.text
    bomb_file = {"photo": ("b.png", _claims(40000, 40000), "image/png")}
    bomb = client.post("/api/upload", data={"csrf": csrf}, files=bomb_file)
    assert bomb.status_code == 413, bomb.text
    good = io.BytesIO()
    Image.new("RGB", (120, 80), "teal").save(good, format="JPEG")
    ok = client.post("/api/upload", data={"csrf": csrf}, files={"photo": ("ok.jpg", good.getvalue(), "image/jpeg")},
                     follow_redirects=False)
    assert ok.status_code == 303 and ok.headers["location"].startswith("/tune/")
    assert client.post("/api/upload", files={"photo": ("ok.jpg", good.getvalue(), "image/jpeg")},
                       data={"csrf": "forged"}).status_code == 403


def test_controls_cover_every_parameter_and_optional_numbers_stay_empty():
    from dataclasses import fields

    from prismarec.renderer.params import RenderParams
    from prismarec.studio.web.pages import controls

    specs = {c["name"]: c for c in controls(RenderParams(), ["conv2/3x3_reduce", "blocks.3"])}
    assert set(specs) == {f.name for f in fields(RenderParams)}
    assert specs["enhance_factor"]["kind"] == "number" and specs["enhance_factor"]["value"] == ""
    assert specs["rb_rate"]["kind"] == "range" and (specs["rb_rate"]["min"], specs["rb_rate"]["max"]) == (0.0, 1.0)
    assert specs["layer"]["options"][0] == "None" and specs["dd"]["kind"] == "checkbox"


def test_posts_from_another_origin_are_refused(client, site):
    evil = {"Origin": "https://evil.example"}
    assert client.post("/login", data={"token": site["token"]}, headers=evil).status_code == 403
    csrf = sign_in(client, site)
    resp = client.post(f"/api/renders/{site['renders'][0]}/verdict", json={"verdict": "good"},
                       headers={**evil, "X-CSRF-Token": csrf})
    assert resp.status_code == 403
    same = client.post(f"/api/renders/{site['renders'][0]}/verdict", json={"verdict": "good"},
                       headers={"Origin": "http://testserver", "X-CSRF-Token": csrf})
    assert same.status_code == 200


def test_thumbnails_are_small_jpegs(client, site):
    full = client.get(f"/files/photo/{site['photos']['coffee']}")
    thumb = client.get(f"/files/photo/{site['photos']['coffee']}?w=120")
    assert full.status_code == thumb.status_code == 200
    assert thumb.headers["content-type"] == "image/jpeg"
    assert Image.open(io.BytesIO(thumb.content)).size == (120, 80)


def test_gallery_pages_keep_their_filters(client):
    page = client.get("/?verdict=untagged&page_no=1").text
    assert "verdict=untagged&amp;page_no=0" in page


def test_malformed_bodies_are_422_and_change_nothing(client, site):
    csrf = sign_in(client, site)
    headers = {"X-CSRF-Token": csrf}
    photo = site["photos"]["chelsea"]
    cases = [("/api/preview", {"photo_id": "abc"}), ("/api/preview", [1, 2]),
             ("/api/preview", {"photo_id": photo, "guide_id": True}), ("/api/render", {"photo_id": 1.5}),
             ("/api/sweep", {"photo_id": photo, "guide_id": "x"}), ("/api/verdicts", ["not", "an", "object"]),
             (f"/api/renders/{site['renders'][0]}/verdict", {"verdict": "good", "score": "5"})]
    for url, body in cases:
        assert client.post(url, json=body, headers=headers).status_code == 422, (url, body)
    resp = client.post("/api/preview", content=b"{not json", headers={**headers, "content-type": "application/json"})
    assert resp.status_code == 422
    with site["catalog"].db.session() as s:
        assert current_verdicts(s, site["renders"][0]) == []


def test_contact_sheet_is_an_xy_grid_with_every_render_and_guide_names():
    from prismarec.studio.web.pages import xy_panels

    def cell(i, n2, rb, guide=None):
        return {"id": i, "guide": guide, "verdicts": [], "params": RenderParams(n2=n2, rb_rate=rb).to_dict()}

    cells = [cell(1, 10, 0.9), cell(2, 20, 0.9), cell(3, 10, 1.0), cell(4, 20, 1.0, guide=7), cell(5, 20, 1.0, guide=7)]
    axes, panels = xy_panels(cells, {7: "stars.png"})
    assert axes == ["rb_rate", "guide"]  # guide varies last: the columns; rb_rate: the rows
    # n2 varies too, so the sheet splits into one panel per n2 value, each with its legend
    assert sorted(p["legend"] for p in panels) == [("n2=10",), ("n2=20",)]
    twenty = next(p for p in panels if p["legend"] == ("n2=20",))
    assert twenty["xs"] == ["none", "stars.png"] and [c["id"] for c in twenty["cells"][("1", "stars.png")]] == [4, 5]


def test_contact_sheet_labels_are_canonical_and_in_numeric_order():
    """`1` and `1.0` (a sweep's grid and a stored set) are one column; None is None; 9 before 10."""
    from prismarec.studio.web.pages import xy_panels

    def cell(i, n2, factor):
        params = RenderParams(n2=n2).to_dict() | {"enhance_factor": factor}
        return {"id": i, "guide": None, "verdicts": [], "params": params}

    cells = [cell(1, 10, 1), cell(2, 9, 1.0), cell(3, 10, None), cell(4, 9, None)]
    axes, [panel] = xy_panels(cells, {})
    assert axes == ["n2", "enhance_factor"] and panel["xs"] == ["1", "None"] and panel["ys"] == ["9", "10"]
    assert [c["id"] for c in panel["cells"][("9", "1")]] == [2]


def test_a_curator_deletes_a_render_and_its_file(client, site):
    from pathlib import Path

    rid = site["renders"][2]
    with site["catalog"].db.session() as s:
        output = Path(s.get(Render, rid).output_path)
    assert client.post(f"/api/renders/{rid}/delete").status_code == 401
    client.headers["X-CSRF-Token"] = sign_in(client, site)
    assert client.post(f"/api/renders/{rid}/delete").status_code == 200
    assert not output.exists() and client.get(f"/render/{rid}").status_code == 404
    assert client.post(f"/api/renders/{rid}/delete").status_code == 404


def test_the_looks_of_a_photo_are_thumbnails_with_their_parameters_best_first(client, site):
    assert client.get(f"/api/looks/{site['photos']['coffee']}").status_code == 401
    token = sign_in(client, site)
    resp = client.get(f"/api/looks/{site['photos']['coffee']}", headers={"X-CSRF-Token": token})
    assert resp.status_code == 200, resp.text
    looks = resp.json()["looks"]
    assert looks[0]["label"].startswith("recommended") and 0 <= looks[0]["confidence"] <= 1
    filters = [look for look in looks if look["params"]["style"] == "painting" and look["params"]["mask"] == "all"]
    assert len(filters) >= 26 and all(look["thumb"].startswith("data:image/jpeg;base64,") for look in looks)
    assert RenderParams.from_dict(looks[0]["params"])  # what the page applies is a valid set
    assert client.get("/api/looks/999", headers={"X-CSRF-Token": token}).status_code == 404


@pytest.mark.parametrize("change", ["remove", "re-key"])
def test_a_removed_or_re_keyed_curator_loses_an_open_session_at_once(client, site, change):
    """Another process (the CLI) changes the curator while their browser is signed in: the next
    verdict gets 401, and the web never brings a removed curator back."""
    from sqlalchemy import select

    from prismarec.db import Curator
    from prismarec.db.store import add_curator_token, remove_curator

    token = sign_in(client, site)
    url = f"/api/renders/{site['renders'][0]}/verdict"
    assert client.post(url, json={"verdict": "good", "score": 4}, headers={"X-CSRF-Token": token}).status_code == 200
    with site["catalog"].db.session() as s:
        remove_curator(s, "ann") if change == "remove" else add_curator_token(s, "ann")
    resp = client.post(url, json={"verdict": "bad", "score": 1}, headers={"X-CSRF-Token": token})
    assert resp.status_code == 401, resp.text
    assert "signed in as" not in client.get("/").text
    with site["catalog"].db.session() as s:
        ann = s.scalar(select(Curator).where(Curator.name == "ann"))
        assert ann is not None and (ann.token_hash is None) == (change == "remove")


def test_the_gallery_filters_by_guide_and_by_photo(client, site):
    def shown(query: str) -> set[int]:
        page = client.get(f"/{query}")
        assert page.status_code == 200
        return {int(n) for n in re.findall(r'href="/render/(\d+)"', page.text)}

    everything = shown("")
    assert shown(f"?guide={site['guide']}") == {site["renders"][1]}  # the one render made with the guide
    assert shown(f"?photo={site['photos']['chelsea']}") == set(site["renders"]) < everything


def test_a_sweep_that_cannot_render_is_refused_before_it_is_queued(client, site):
    token = sign_in(client, site)
    body = {"photo_id": site["photos"]["chelsea"], "params": {"style": "fast", "layer": None, "size": 64}}
    resp = client.post("/api/sweep", json=body, headers={"X-CSRF-Token": token})  # fast style needs a guide
    assert resp.status_code == 422 and "needs a guide" in resp.json()["detail"]
    assert client.get("/api/jobs/1").status_code == 404  # nothing was queued


def test_job_ids_are_never_reused_and_old_jobs_are_forgotten():
    from prismarec.studio.web.context import Jobs

    jobs = Jobs()
    ids = []
    for _ in range(Jobs.HISTORY + 20):
        job_id, job = jobs.add(3)
        job.state = "finished"
        ids.append(job_id)
    assert ids == list(range(1, Jobs.HISTORY + 21))
    assert jobs[ids[-1]].total == 3
    with pytest.raises(Exception, match="no job 1"):
        jobs[1]
