"""Many curators and renderers at once through the web page, on SQLite and on PostgreSQL."""

import re
import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
from sqlalchemy import func, select

from prismarec.db import Render, Verdict
from prismarec.db.store import add_curator_token
from prismarec.studio.web import create_app

from .conftest import make_site, serve

CURATORS, RENDERERS, ROUNDS = 8, 4, 5

pytestmark = pytest.mark.slow


@pytest.fixture(params=["sqlite", "postgresql"])
def loaded_site(request, tmp_path, data_home, photos):
    if request.param == "sqlite":
        yield make_site(f"sqlite:///{data_home / 'load.db'}", tmp_path, data_home, photos)
        return
    site = make_site(request.getfixturevalue("postgres_url"), tmp_path, data_home, photos)
    yield site
    with site["catalog"].db.engine.begin() as conn:
        conn.exec_driver_sql("DROP SCHEMA public CASCADE; CREATE SCHEMA public")
    site["catalog"].db.close()


def test_eight_curators_tagging_and_four_renderers_at_once_lose_nothing(loaded_site):
    site = loaded_site
    db = site["catalog"].db
    with db.session() as s:
        tokens = [add_curator_token(s, f"curator{i}") for i in range(CURATORS + RENDERERS)]
        renders_before = s.scalar(select(func.count(Render.id)))
    url, server, thread = serve(create_app(site["db_url"], backbone="efficientnet-lite0"))
    statuses: list[int] = []

    def signed_in(token: str) -> tuple[httpx.Client, dict]:
        client = httpx.Client(base_url=url, timeout=120)
        assert client.post("/login", data={"token": token}).status_code in (200, 303)
        csrf = re.search(r'name="csrf" content="([0-9a-f]+)"', client.get("/").text).group(1)
        return client, {"X-CSRF-Token": csrf}

    def curate(token: str) -> None:
        client, headers = signed_in(token)
        try:
            for n in range(ROUNDS):
                for rid in site["renders"]:
                    body = {"verdict": "good" if n % 2 else "bad", "score": 1 + n}
                    statuses.append(client.post(f"/api/renders/{rid}/verdict", json=body, headers=headers).status_code)
        finally:
            client.close()

    def render(token: str) -> None:
        client, headers = signed_in(token)
        try:
            for size in (48, 64):
                body = {"photo_id": site["photos"]["coffee"], "params": {"layer": None, "size": size, "mask": "all",
                                                                         "style": "painting", "painting": "3"}}
                made = client.post("/api/render", json=body, headers=headers)
                statuses.append(made.status_code)
                while client.get(f"/api/jobs/{made.json()['job']}").json()["state"] in ("queued", "running"):
                    time.sleep(0.05)
        finally:
            client.close()

    try:
        with ThreadPoolExecutor(CURATORS + RENDERERS) as pool:
            jobs = [pool.submit(curate, t) for t in tokens[:CURATORS]]
            jobs += [pool.submit(render, t) for t in tokens[CURATORS:]]
            for job in jobs:
                job.result()
    finally:
        server.should_exit = True
        thread.join(10)
    assert statuses and all(code == 200 for code in statuses), sorted(set(statuses))
    with db.session() as s:
        verdicts = s.scalar(select(func.count(Verdict.id)).where(Verdict.curator_id.isnot(None)))
        current = s.execute(select(Verdict.render_id, Verdict.curator_id, func.count())
                            .where(Verdict.current.is_(True)).group_by(Verdict.render_id, Verdict.curator_id)).all()
        renders = s.scalar(select(func.count(Render.id)))
    assert verdicts == 1 + CURATORS * ROUNDS * len(site["renders"])  # bob's, then every one sent: none lost
    assert len(current) == 1 + CURATORS * len(site["renders"]) and all(n == 1 for *_, n in current)
    assert renders == renders_before + 2 * RENDERERS
