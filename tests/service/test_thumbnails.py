"""Deferred thumbnails: an import settles the cheap ones, the filler job makes the rest."""

from __future__ import annotations

import shutil
import time
from pathlib import Path

import pytest
from PIL import Image

from tagscope.domain import JobStatus, NotFoundError, ValidationError
from tagscope.media.thumbnails import thumbnail_path
from tagscope.service import Workspace, thumbnails
from tagscope.service.background import start_thumbnails
from tagscope.service.browse import get_thumbnail_file
from tagscope.service.imports import import_images
from tagscope.service.thumbnails import fill_thumbnails, needs_filling


def _made(ws: Workspace) -> dict[Path, int]:
    return {p: p.stat().st_mtime_ns for p in ws.paths.thumbnails.rglob("*.jpg")}


@pytest.fixture()
def mixed(coco_mini: Path, imagenette: Path, tmp_path: Path) -> Path:
    """Four COCO photos (640 x 4xx: their thumbnails need decoding) and three small upright
    Imagenette JPEGs (each its own thumbnail)."""
    folder = tmp_path / "mixed"
    folder.mkdir()
    for src in sorted((coco_mini / "val2017").glob("*.jpg"))[:4]:
        shutil.copy(src, folder / f"coco-{src.name}")
    for src in sorted((imagenette / "church").glob("*.JPEG"))[:3]:
        shutil.copy(src, folder / f"inet-{src.name}")
    return folder


def _thumbnail_of(ws: Workspace, path: Path) -> Path:
    item = next(it for it in ws.catalog.iter_items(ws.dataset("mixed").id) if it.path == str(path))
    assert item.media is not None
    return thumbnail_path(ws.paths.thumbnails, item.media.content_hash)


def test_the_default_import_defers_the_thumbnails_that_need_decoding(
    workspace: Workspace, mixed: Path
) -> None:
    report = import_images(workspace, "mixed", mixed)
    assert (report.n_added, report.n_thumbnails_deferred) == (7, 4)
    assert not _made(workspace)  # the small JPEGs are their own; the photos wait
    ds = workspace.dataset("mixed")
    job = workspace.catalog.list_jobs(ds.id)[0]
    assert job.params["thumbnails"] == "defer" and job.result["n_thumbnails_deferred"] == 4
    assert needs_filling(workspace, ds.id)

    seen: list[tuple[int, int]] = []
    job = fill_thumbnails(workspace, "mixed", progress=lambda *a: seen.append(a))
    assert (job.kind, job.status, job.n_done, job.n_total) == ("thumbnails", JobStatus.DONE, 7, 7)
    assert seen[0] == (0, 7) and seen[-1] == (7, 7)
    assert {k: job.result[k] for k in ("n_items", "n_made", "n_present", "n_problems")} == {
        "n_items": 7,
        "n_made": 4,
        "n_present": 3,
        "n_problems": 0,
    }
    made = _made(workspace)
    assert set(made) == {_thumbnail_of(workspace, p) for p in mixed.glob("coco-*")}
    for path in made:
        with Image.open(path) as im:
            assert im.format == "JPEG" and max(im.size) == 256
    assert not needs_filling(workspace, ds.id)

    # Resumable: a second run has nothing left to check and makes nothing.
    again = fill_thumbnails(workspace, "mixed")
    assert (again.result["n_items"], again.result["n_made"]) == (0, 0)
    assert _made(workspace) == made


def test_a_killed_fill_resumes_with_what_is_left(
    workspace: Workspace, mixed: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import_images(workspace, "mixed", mixed, thumbnails="none")
    monkeypatch.setattr(thumbnails, "_CHUNK", 2)  # progress after every 2 items

    def kill(n_done: int, n_total: int) -> None:
        if n_done >= 2:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        fill_thumbnails(workspace, "mixed", progress=kill)
    killed = workspace.catalog.list_jobs(workspace.dataset("mixed").id)[0]
    assert (killed.kind, killed.status) == ("thumbnails", JobStatus.ERROR)
    first = _made(workspace)
    assert 0 < len(first) <= 2

    job = fill_thumbnails(workspace, "mixed")
    assert job.result["n_made"] == 4 - len(first)
    assert job.result["n_present"] == 3 + len(first)
    assert len(_made(workspace)) == 4
    assert {p: m for p, m in _made(workspace).items() if p in first} == first  # not redone


def test_items_added_after_a_fill_are_filled_by_the_next(
    workspace: Workspace, mixed: Path, coco_mini: Path
) -> None:
    import_images(workspace, "mixed", mixed)
    fill_thumbnails(workspace, "mixed")
    late = sorted((coco_mini / "val2017").glob("*.jpg"))[10]
    shutil.copy(late, mixed / "late.jpg")
    assert import_images(workspace, "mixed", mixed).n_thumbnails_deferred == 1
    assert needs_filling(workspace, workspace.dataset("mixed").id)
    job = fill_thumbnails(workspace, "mixed")
    assert (job.result["n_items"], job.result["n_made"]) == (1, 1)
    assert _thumbnail_of(workspace, mixed / "late.jpg").is_file()


def test_a_changed_or_missing_file_gets_no_thumbnail_and_is_reported(
    workspace: Workspace, mixed: Path
) -> None:
    import_images(workspace, "mixed", mixed, thumbnails="none")
    photos = sorted(mixed.glob("coco-*"))
    photos[0].write_bytes(photos[0].read_bytes()[:5000])  # cut short after its import
    photos[1].unlink()
    job = fill_thumbnails(workspace, "mixed")
    assert job.result["n_made"] == 2 and job.result["n_problems"] == 2
    reasons = {p["source"]: p["reason"] for p in job.result["problems"]}
    assert reasons[str(photos[0])].startswith("its size changed")
    assert reasons[str(photos[1])] == "file not found"


def test_the_thumbnail_endpoint_makes_a_deferred_thumbnail_on_first_view(
    workspace: Workspace, mixed: Path
) -> None:
    import_images(workspace, "mixed", mixed)
    photo = next(mixed.glob("coco-*"))
    item = next(
        it
        for it in workspace.catalog.iter_items(workspace.dataset("mixed").id)
        if it.path == str(photo)
    )
    served = get_thumbnail_file(workspace, item.id)
    assert served.path == _thumbnail_of(workspace, photo) and served.path.is_file()
    assert served.media_type == "image/jpeg"
    photo.write_bytes(b"not the imported photo")  # its file checks still hold
    served.path.unlink()
    with pytest.raises(NotFoundError, match="changed since its import"):
        get_thumbnail_file(workspace, item.id)


def test_fill_missing_thumbnails_covers_only_datasets_an_import_deferred(
    workspace: Workspace, mixed: Path
) -> None:
    import_images(workspace, "plain", mixed, thumbnails="none")
    import_images(workspace, "mixed", mixed)
    thumbnails.start_missing_thumbnails(workspace).join(timeout=60)
    assert not needs_filling(workspace, workspace.dataset("mixed").id)
    kinds = {
        name: [j.kind for j in workspace.catalog.list_jobs(workspace.dataset(name).id)]
        for name in ("plain", "mixed")
    }
    assert kinds == {"plain": ["import"], "mixed": ["thumbnails", "import"]}
    assert len(_made(workspace)) == 4


@pytest.mark.parametrize(("value", "mode"), [(True, "now"), (False, "none"), ("defer", "defer")])
def test_the_thumbnails_choice_takes_bools_and_names(value: bool | str, mode: str) -> None:
    assert thumbnails.thumbnail_mode(value) == mode  # type: ignore[arg-type]


def test_an_unknown_thumbnails_choice_is_refused_before_anything_changes(
    workspace: Workspace, mixed: Path
) -> None:
    with pytest.raises(ValidationError, match="thumbnails must be one of now, defer, none") as exc:
        import_images(workspace, "mixed", mixed, thumbnails="later")  # type: ignore[arg-type]
    assert exc.value.field == "thumbnails"
    assert workspace.catalog.list_datasets() == []


def test_start_thumbnails_runs_the_fill_as_a_background_job(
    workspace: Workspace, mixed: Path
) -> None:
    import_images(workspace, "mixed", mixed)
    job = start_thumbnails(workspace, "mixed")
    assert job.kind == "thumbnails"
    deadline = time.monotonic() + 60
    while (job := workspace.catalog.get_job(job.id)).status not in (
        JobStatus.DONE,
        JobStatus.ERROR,
    ):
        assert time.monotonic() < deadline
        time.sleep(0.05)
    assert job.status == JobStatus.DONE and job.result["n_made"] == 4
