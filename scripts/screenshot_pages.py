"""Screenshots of the curator's page (gallery, review, tune, contact sheet) for the README.

Serves the given database in-process, signs in a curator, and photographs each page with
Debian's Chromium through Playwright; the four shots are tiled into docs/pages.jpg.

Run: PRISMAREC_HOME=<a demo home> .venv/bin/python -m prismarec.scripts.screenshot_pages [--out docs/pages.jpg]
(build a demo home with `python -m prismarec.scripts.make_demo_curation`).
"""

from __future__ import annotations

import argparse
import io
from pathlib import Path

from PIL import Image
from playwright.sync_api import sync_playwright
from sqlalchemy import func, select

from prismarec.db import Database, Render
from prismarec.db.store import add_curator_token

from .bench_web import _serve

CHROMIUM = "/usr/bin/chromium"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("docs/pages.jpg"))
    args = parser.parse_args()
    db = Database()
    with db.session() as s:
        token = add_curator_token(s, "screenshots")
        render = s.get(Render, s.scalar(select(func.max(Render.id)).where(Render.guide_id.is_not(None))))
        render_id, photo_id = render.id, render.photo_id
    base, server = _serve(db.url)
    shots = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"], headless=True)
        page = browser.new_page(viewport={"width": 1200, "height": 800})
        page.goto(f"{base}/login")
        page.fill("#token", token)
        page.click("#sign-in")
        page.wait_for_url(f"{base}/")
        for url, ready in ((f"/render/{render_id}", "#review"), ("/", ".grid"),
                           (f"/tune/{photo_id}", "#preview[data-generation='1']"), (f"/sheet/{photo_id}", ".sheet")):
            page.goto(base + url)
            page.wait_for_selector(ready)
            shots.append(Image.open(io.BytesIO(page.screenshot())).convert("RGB"))
        browser.close()
    server.should_exit = True
    w, h = shots[0].size
    tiled = Image.new("RGB", (2 * w, 2 * h), "white")
    for i, shot in enumerate(shots):
        tiled.paste(shot, ((i % 2) * w, (i // 2) * h))
    tiled.thumbnail((1600, 1600))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    tiled.save(args.out, quality=80)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
