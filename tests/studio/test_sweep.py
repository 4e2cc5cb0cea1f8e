import pytest
from PIL import Image
from sqlalchemy import func, select

from prismarec.db import Database, Render
from prismarec.indexer.catalog import Catalog
from prismarec.renderer.params import RenderParams
from prismarec.studio.contact_sheet import contact_sheet
from prismarec.studio.sweep import parse_grid, plan, run

BASE = RenderParams(size=64, iter_n=2, octave_n=2)


@pytest.fixture
def setup(tmp_path, net, photos):
    catalog = Catalog(Database(f"sqlite:///{tmp_path / 's.db'}"), net, tmp_path / "idx")
    paths = {}
    for name in ("chelsea", "coffee", "rocket"):
        paths[name] = tmp_path / f"{name}.png"
        Image.fromarray(photos[name]).save(paths[name])
    photo_list = [(catalog.register(paths[n]).id, str(paths[n])) for n in ("chelsea", "coffee")]
    guide = (catalog.register_guide(paths["rocket"])[0], str(paths["rocket"]))
    return catalog, photo_list, [guide, (None, None)]


def _count(catalog):
    with catalog.db.session() as s:
        return s.scalar(select(func.count(Render.id)))


def test_grid_parsing_and_errors():
    assert parse_grid(["layer=conv2/3x3_reduce,None", "rb_rate=0.85,1"]) == {
        "layer": ["conv2/3x3_reduce", None], "rb_rate": [0.85, 1]}
    with pytest.raises(ValueError, match="unknown parameter 'bogus'"):
        parse_grid(["bogus=1,2"])
    with pytest.raises(ValueError, match="key=v1,v2"):
        parse_grid(["layer"])


def test_plan_is_the_cartesian_product_with_names_from_what_varies(setup, tmp_path):
    _, photo_list, guides = setup
    grid = parse_grid(["layer=conv2/3x3_reduce,blocks.3", "rb_rate=0.85,1.0", "n1=5"])
    tasks = plan(photo_list, guides, BASE, grid, tmp_path / "out")
    assert len(tasks) == 2 * 2 * 2 * 2
    assert len({t.output for t in tasks}) == len(tasks)
    names = {t.output.split("out/")[1] for t in tasks}
    assert "chelsea/rocket/layer-conv2_3x3_reduce_rbrate-0.85.png" in names
    assert "coffee/none/layer-blocks.3_rbrate-1.0.png" in names  # n1 does not vary: not in the name
    with pytest.raises(ValueError, match="rb_rate must be in"):
        plan(photo_list, guides, BASE, parse_grid(["rb_rate=2"]), tmp_path / "out")


def test_sweep_resumes_after_interruption(setup, tmp_path):
    catalog, photo_list, guides = setup
    tasks = plan(photo_list, guides, BASE, parse_grid(["layer=conv2/3x3_reduce,None", "rb_rate=0.85,1.0"]),
                 tmp_path / "out")
    first = run(catalog, tasks[:5])  # "interrupted" after five
    assert len(first.rendered) == 5 and _count(catalog) == 5
    second = run(catalog, tasks)
    assert len(second.rendered) == len(tasks) - 5 and sorted(second.skipped) == sorted(first.rendered)
    assert _count(catalog) == len(tasks)
    assert not run(catalog, tasks).rendered


def test_failed_render_is_reported_and_sweep_goes_on(setup, tmp_path):
    catalog, photo_list, guides = setup
    tasks = plan(photo_list[:1], guides[1:], BASE, parse_grid(["n1=3,5"]), tmp_path / "out")
    broken = tasks[0].__class__(**{**tasks[0].__dict__, "photo_path": str(tmp_path / "vanished.png")})
    report = run(catalog, [broken, tasks[1]])
    assert len(report.failed) == 1 and "vanished.png" in report.failed[0][1]
    assert len(report.rendered) == 1


def test_contact_sheet_grid_matches_the_varying_parameters(setup, tmp_path):
    catalog, photo_list, guides = setup
    tasks = plan(photo_list[:1], guides, BASE, parse_grid(["layer=conv2/3x3_reduce,None", "rb_rate=0.8,0.9,1.0"]),
                 tmp_path / "out")
    run(catalog, tasks)
    path, shape = contact_sheet(tasks, tmp_path / "sheet.png", thumb=64)
    assert shape == (2 * 2, 3)  # rows: guide × layer, columns: rb_rate
    with Image.open(path) as img:
        assert img.size[0] > 3 * 64 and img.size[1] > 4 * 64


@pytest.mark.slow
def test_sweep_runs_on_a_local_dask_cluster(setup, tmp_path):
    from distributed import Client, LocalCluster

    catalog, photo_list, guides = setup
    tasks = plan(photo_list, guides[:1], BASE, parse_grid(["rb_rate=0.85,1.0"]),
                 tmp_path / "out", backbone="efficientnet-lite0")
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True) as cluster, Client(cluster) as client:
        report = run(catalog, tasks, client.get_executor())
        workers = client.run(lambda: __import__("os").getpid())
    assert len(report.rendered) == 4 and not report.failed
    assert len(workers) == 2
    assert all(Image.open(t.output).size[0] == 64 for t in tasks)


def test_batched_sweep_groups_by_dream_settings(setup, tmp_path):
    from prismarec.studio.sweep import batches

    catalog, photo_list, guides = setup
    tasks = plan(photo_list, guides[:1], BASE, parse_grid(["layer=conv2/3x3_reduce,blocks.3", "rb_rate=0.8,0.9,1.0"]),
                 tmp_path / "out")
    groups = batches(tasks, 8)
    assert len(groups) == 2 * 2  # photo × layer; the rates share one batched dream
    assert all(len({(t.photo_path, t.params.layer) for t in g}) == 1 for g in groups)
    report = run(catalog, tasks, batch=8)
    assert len(report.rendered) == len(tasks) and not report.failed
    assert all(Image.open(t.output).size[0] == 64 for t in tasks)


def test_a_sweep_over_styles_records_which_network_painted(setup, tmp_path):
    catalog, photo_list, guides = setup
    tasks = plan(photo_list[:1], guides[:1], BASE.replace(layer=None), parse_grid(["style=None,fast"]),
                 tmp_path / "out")
    report = run(catalog, tasks)
    assert not report.failed
    with catalog.db.session() as s:
        models = s.scalars(select(Render.style_model).where(Render.id.in_(report.rendered))).all()
    assert sorted(models, key=str) == [None, "magenta-arbitrary-v1-int8"]
