"""End to end in a real headless browser: Playwright driving Debian's Chromium against `prismarec serve`."""

import json
import re
import shutil

import pytest

from prismarec.db.store import current_verdicts
from prismarec.studio.web import create_app

from .conftest import serve

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
         "--disable-component-update", "--disable-sync"]

pytestmark = pytest.mark.slow


@pytest.fixture
def server(site):
    url, srv, thread = serve(create_app(site["db_url"], backbone="efficientnet-lite0"))
    yield url
    srv.should_exit = True
    thread.join(10)


@pytest.fixture
def page(server, tmp_path):
    playwright = pytest.importorskip("playwright.sync_api")
    if not shutil.which("chromium") and not __import__("os").path.exists(CHROMIUM):
        pytest.fail("Debian's chromium is not installed (make test installs it)")
    with playwright.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS, headless=True)
        context = browser.new_context()
        pg = context.new_page()
        pg.set_default_timeout(30_000)
        yield pg
        context.close()
        browser.close()


def sign_in(page, server, site):
    page.goto(f"{server}/login")
    page.fill("#token", site["token"])
    page.click("#sign-in")
    page.wait_for_url(f"{server}/")
    assert page.inner_text("#who") == "signed in as ann"


def test_sign_in_and_tag_with_the_keyboard(page, server, site):
    sign_in(page, server, site)
    rid = site["renders"][0]
    page.goto(f"{server}/render/{rid}")
    page.keyboard.press("g")
    page.wait_for_selector("#toast.show")
    page.keyboard.press("4")
    page.locator("#verdicts", has_text="4/5").wait_for()
    with site["catalog"].db.session() as s:
        assert current_verdicts(s, rid) == [("ann", "good", 4, None)]
    page.fill("#note", "too dark")  # re-tagging with g keeps the score and sends the note
    page.locator("#review h1").click()
    page.keyboard.press("g")
    page.locator("#verdicts", has_text="too dark").wait_for()
    with site["catalog"].db.session() as s:
        assert current_verdicts(s, rid) == [("ann", "good", 4, "too dark")]
    page.click("#undo-btn")  # undo restores the verdict before the last one
    page.locator("#verdicts li", has_text=re.compile(r"^ann: good 4/5$")).wait_for()
    with site["catalog"].db.session() as s:
        assert current_verdicts(s, rid) == [("ann", "good", 4, None)]
    page.keyboard.press("u")  # then good without a score (the first g), then none
    page.locator("#verdicts li", has_text=re.compile(r"^ann: good$")).wait_for()
    page.keyboard.press("u")
    page.wait_for_selector("#undo-btn[disabled]")
    with site["catalog"].db.session() as s:
        assert current_verdicts(s, rid) == []
    page.check("#auto-next")  # ticking auto-advance leaves the keys working
    page.keyboard.press("b")
    page.wait_for_url(f"{server}/render/{site['renders'][1]}")
    with site["catalog"].db.session() as s:
        assert current_verdicts(s, rid) == [("ann", "bad", None, "too dark")]
    page.uncheck("#auto-next")
    page.keyboard.press("ArrowRight")
    page.wait_for_url(f"{server}/render/{site['renders'][2]}")


def test_moving_a_slider_gives_a_new_preview(page, server, site):
    sign_in(page, server, site)
    page.goto(f"{server}/tune/{site['photos']['chelsea']}")
    page.wait_for_selector("#preview[data-generation='1']")
    first = page.get_attribute("#preview", "src")
    page.fill("input[name=n2]", "60")
    page.wait_for_selector("#preview[data-generation='2']")
    assert page.get_attribute("#preview", "src") != first
    assert page.inner_text("#preview-status") == "preview up to date"
    page.select_option("#guide-picker", label="rocket.png")  # the guide picker lists guides by name
    page.wait_for_selector("#preview[data-generation='3']")
    assert page.get_attribute("#guide-thumb", "src").startswith(f"/files/guide/{site['guide']}")
    page.fill("#split", "30")  # before/after: the preview covers the left 30 %
    page.dispatch_event("#split", "input")
    assert "70%" in page.get_attribute("#preview", "style")


def test_the_filter_strip_shows_looks_best_first_and_one_click_applies_one(page, server, site):
    sign_in(page, server, site)
    page.goto(f"{server}/tune/{site['photos']['chelsea']}")
    page.wait_for_selector("#preview[data-generation='1']")
    looks = page.locator("#strip .look")
    looks.nth(26).wait_for()  # the recommendation (and any alternatives), then the 26 filters
    assert looks.first.inner_text().startswith("recommended (")  # with its confidence, or "nothing liked yet"
    starry = page.locator("#strip .look", has_text="starry swirl")
    starry.click()
    assert page.input_value("select[name=style]") == "painting" and page.input_value("select[name=painting]") == "16"
    assert page.input_value("select[name=layer]") == "None"
    assert starry.get_attribute("aria-pressed") == "true"
    page.wait_for_selector("#preview[data-generation='2']")  # the look is previewed at once


def test_render_button_is_busy_while_rendering_and_one_click_is_one_render(page, server, site):
    from sqlalchemy import func, select

    from prismarec.db import Render

    sign_in(page, server, site)
    page.goto(f"{server}/tune/{site['photos']['chelsea']}")
    page.fill("input[name=size]", "64")
    with site["catalog"].db.session() as s:
        before = s.scalar(select(func.count(Render.id)))
    page.dblclick("#render-btn")
    page.wait_for_selector("#render-link:not([hidden])")
    page.wait_for_selector("#render-btn:not([disabled])")
    with site["catalog"].db.session() as s:
        assert s.scalar(select(func.count(Render.id))) == before + 1


def test_apply_a_neighbours_parameters(page, server, site):
    page.goto(f"{server}/similar/{site['photos']['coffee']}")
    link = page.locator("a.apply").first
    recommended = json.loads(page.locator(".set code").first.inner_text())
    link.click()
    page.wait_for_url(f"{server}/tune/**")
    assert page.input_value("input[name=n2]") == str(recommended["n2"]) == "40"
    assert page.input_value("input[name=rb_rate]") == "0.9"


def test_sweep_review_sheet_tag_best_then_recommend_picks_it(page, server, site, tmp_path, photos):
    """The whole curator loop in the browser, then `recommend` on a similar photo."""
    from PIL import Image
    from sqlalchemy import func, select

    from prismarec.db import Render
    from prismarec.recommender.ranking import style_of
    from prismarec.recommender.recommend import recommend
    from prismarec.renderer.params import RenderParams

    sign_in(page, server, site)
    chelsea = site["photos"]["chelsea"]
    page.goto(f"{server}/tune/{chelsea}")
    page.fill("input[name=size]", "64")
    page.fill("input[name=iter_n]", "2")
    page.fill("input[name=n2]", "30")
    with site["catalog"].db.session() as s:
        before = s.scalar(select(func.count(Render.id)))
    page.click("#sweep-btn")
    page.wait_for_selector("#sheet-link:not([hidden])")
    queued = int(page.get_attribute("#sheet-link", "data-queued"))
    page.locator("#job-status", has_text=f"sweep finished: {queued} of {queued}").wait_for(timeout=90_000)
    with site["catalog"].db.session() as s:  # a finished job has recorded every render
        assert s.scalar(select(func.count(Render.id))) == before + queued
    page.click("#sheet-link")
    page.wait_for_url(f"{server}/sheet/{chelsea}?job=*")
    assert page.locator(".sheet img").count() == queued  # the sweep's own grid, not the photo's other renders
    best = page.locator(".tag-best").nth(5)
    best_id = int(best.get_attribute("data-render"))
    best.click()
    page.wait_for_selector(f".tag-best[data-render='{best_id}'][disabled]")
    with site["catalog"].db.session() as s:
        chosen = style_of(RenderParams.from_json(s.get(Render, best_id).params))

    crop = tmp_path / "chelsea-crop.png"
    Image.fromarray(photos["chelsea"][30:280, 40:420]).save(crop)
    rec = recommend(site["catalog"], str(crop))
    assert not rec.fallback and rec.params == chosen


def test_deleting_a_photo_from_the_page_after_confirming(page, server, site):
    from prismarec.db import Photo, Render

    sign_in(page, server, site)
    chelsea = site["photos"]["chelsea"]
    page.goto(f"{server}/tune/{chelsea}")
    page.once("dialog", lambda dialog: dialog.dismiss())  # cancelled: nothing goes
    page.click("#delete-photo-btn")
    with site["catalog"].db.session() as s:
        assert s.get(Photo, chelsea) is not None
    page.once("dialog", lambda dialog: dialog.accept())
    page.click("#delete-photo-btn")
    page.wait_for_url(f"{server}/")
    with site["catalog"].db.session() as s:
        assert s.get(Photo, chelsea) is None
        assert all(s.get(Render, rid) is None for rid in site["renders"])


@pytest.mark.parametrize("width", [1280, 390])
def test_the_tune_page_holds_its_layout_and_keeps_the_preview_in_view(page, server, site, width):
    sign_in(page, server, site)
    page.set_viewport_size({"width": width, "height": 800})
    page.goto(f"{server}/tune/{site['photos']['chelsea']}")
    page.wait_for_selector("#preview[data-generation='1']")
    assert page.evaluate("document.scrollingElement.scrollWidth") <= width  # nothing wider than the screen
    controls, preview = page.locator("#controls").bounding_box(), page.locator("#compare").bounding_box()
    side_by_side = controls["x"] + controls["width"] <= preview["x"]
    assert side_by_side if width == 1280 else preview["y"] < controls["y"]  # never overlapping
    labels = page.locator(".control")
    for i in range(labels.count()):  # no control spills over its neighbour
        box = labels.nth(i).bounding_box()
        assert box["x"] + box["width"] <= (preview["x"] if width == 1280 else width) + 1, i
    page.locator("input[name=iter_n]").scroll_into_view_if_needed()  # a slider far down the list
    page.fill("input[name=iter_n]", "3")
    page.wait_for_selector("#preview[data-generation='2']")
    box = page.locator("#compare").bounding_box()
    assert box["y"] >= -1 and box["y"] + box["height"] / 2 <= 800  # the preview stays in view
