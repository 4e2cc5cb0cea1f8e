"""A small curated installation for the web tests: two photos, renders, a signed-up curator; and a
real server for the browser and load tests."""

import socket
import threading
import time

import pytest
import uvicorn
from PIL import Image

from prismarec.db import Database
from prismarec.db.store import add_curator_token, tag
from prismarec.indexer.catalog import Catalog
from prismarec.renderer.backbones import load_backbone
from prismarec.renderer.params import RenderParams
from prismarec.studio.recording import render_and_record


@pytest.fixture
def site(tmp_path, data_home, photos):
    return make_site(f"sqlite:///{data_home / 'web.db'}", tmp_path, data_home, photos)


def make_site(db_url, tmp_path, data_home, photos):
    """Photos chelsea and coffee, a guide, three renders of chelsea, bob's good verdict on a crop of
    coffee, and ann's sign-in token, in the database at `db_url`."""
    catalog = Catalog(Database(db_url), load_backbone("efficientnet-lite0", device="cpu"))
    ids = {}
    for name in ("chelsea", "coffee"):
        path = tmp_path / f"{name}.png"
        Image.fromarray(photos[name]).save(path)
        ids[name] = catalog.register(path).id
    guide_path = tmp_path / "rocket.png"
    Image.fromarray(photos["rocket"]).save(guide_path)
    guide = catalog.register_guide(guide_path)
    renders = []
    for i, params in enumerate([RenderParams(size=64, iter_n=2, n2=20), RenderParams(size=64, iter_n=2, dd=False),
                                RenderParams(size=64, layer=None, mask="stdmean")]):
        photo = catalog.register(tmp_path / "chelsea.png")
        output = data_home / "renders" / f"r{i}.png"
        rid, _ = render_and_record(catalog, photo, params, output, guide=guide if i == 1 else None)
        renders.append(rid)
    crop = tmp_path / "coffee-crop.png"  # a similar photo whose curated style the coffee photo can borrow
    Image.fromarray(photos["coffee"][20:380, 30:570]).save(crop)
    good_id, _ = render_and_record(catalog, catalog.register(crop), RenderParams(size=64, iter_n=2, n2=40, rb_rate=0.9),
                                data_home / "renders" / "good.png")
    with catalog.db.session() as s:
        tag(s, good_id, "bob", "good", 5)
        token = add_curator_token(s, "ann")
    return {"db_url": db_url, "catalog": catalog, "photos": ids, "renders": renders, "good": good_id,
            "token": token, "guide": guide[0]}


def serve(app) -> tuple[str, uvicorn.Server, threading.Thread]:
    """`app` on a free local port in a thread: (its URL, the server, the thread)."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.time() + 20
    while not server.started and time.time() < deadline:
        time.sleep(0.05)
    return f"http://127.0.0.1:{port}", server, thread
