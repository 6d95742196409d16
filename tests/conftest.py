"""Fixtures shared by every test package: real sample data and fresh workspaces."""

from __future__ import annotations

import json
import os
import sys
import uuid
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import fsspec
import pytest

from tagscope.domain import Dataset, MediaInfo, NewItem
from tagscope.media.images import read_media_info
from tagscope.service import Workspace

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))
from _pg import fresh_database  # the benchmarks' helper: one way to make a database

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # tests never download a model

SHARED = Path(
    os.environ.get("TAGSCOPE_SHARED", Path(__file__).resolve().parents[2] / "shared")
).resolve()  # imports store resolved paths; a symlinked ../shared must compare equal


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    if not SHARED.is_dir():
        pytest.skip(f"sample data folder {SHARED} not found (set TAGSCOPE_SHARED)")
    return SHARED


@pytest.fixture(scope="session")
def coco_mini(shared_dir: Path) -> Path:
    return shared_dir / "data" / "coco-mini"


@pytest.fixture(scope="session")
def imagenette(shared_dir: Path) -> Path:
    return shared_dir / "data" / "imagenette-dev"


@pytest.fixture()
def workspace(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Workspace:
    """A fresh SQLite workspace in a temporary folder."""
    monkeypatch.delenv("TAGSCOPE_DATABASE_URL", raising=False)
    return Workspace.open(tmp_path / "ws")


PG_URL = os.environ.get("TAGSCOPE_TEST_DATABASE_URL")


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh, empty catalog database: SQLite in a temporary folder, or a new PostgreSQL
    database on the server of ``$TAGSCOPE_TEST_DATABASE_URL`` (dropped afterwards)."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'catalog.db'}"
        return
    if not PG_URL:
        pytest.skip("TAGSCOPE_TEST_DATABASE_URL is not set (.ci/run starts PostgreSQL)")
    with fresh_database(PG_URL) as url:
        yield url


# -- embeddings: a tiny random CLIP and small datasets of real images -----------------------------


@pytest.fixture(scope="session")
def tiny_clip_dir(shared_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny CLIP model with random weights and the real CLIP tokenizer, saved to a folder.

    It loads like any CLIP checkpoint (``AutoModel`` / ``AutoProcessor``): 16-d projections,
    32 x 32 pixel inputs, 77-token text. No semantics: use it for plumbing and shapes only.
    """
    import torch
    from transformers import (
        CLIPConfig,
        CLIPImageProcessorPil,
        CLIPModel,
        CLIPProcessor,
        CLIPTokenizer,
    )

    folder = tmp_path_factory.mktemp("tiny-clip")
    tower = {"hidden_size": 32, "intermediate_size": 37, "num_hidden_layers": 2}
    config = CLIPConfig(
        text_config={
            **tower,
            "num_attention_heads": 2,
            "vocab_size": 49408,
            "max_position_embeddings": 77,
        },
        vision_config={**tower, "num_attention_heads": 2, "image_size": 32, "patch_size": 8},
        projection_dim=16,
    )
    torch.manual_seed(0)
    CLIPModel(config).save_pretrained(folder)
    tokenizer = CLIPTokenizer.from_pretrained(shared_dir / "models" / "clip-tokenizer")
    images = CLIPImageProcessorPil(
        size={"shortest_edge": 32}, crop_size={"height": 32, "width": 32}
    )
    CLIPProcessor(image_processor=images, tokenizer=tokenizer).save_pretrained(folder)
    return folder


@pytest.fixture(scope="session")
def tiny_sam_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny Segment Anything model with random weights and its processor, saved to a folder.

    It loads like any Hugging Face SAM checkpoint (``SamModel`` / ``SamProcessor``): a 2-layer,
    32-wide vision tower on 64 x 64 pixel inputs. Its masks are arbitrary: use it for plumbing,
    shapes and determinism only.
    """
    import torch
    from transformers import SamConfig, SamImageProcessor, SamModel, SamProcessor

    folder = tmp_path_factory.mktemp("tiny-sam")
    grid = {"hidden_size": 32, "image_size": 64, "patch_size": 16}
    config = SamConfig(
        vision_config={
            **grid,
            "output_channels": 32,
            "num_hidden_layers": 2,
            "num_attention_heads": 2,
            "window_size": 2,
            "global_attn_indexes": [1],
            "num_pos_feats": 16,
            "mlp_dim": 64,
        },
        prompt_encoder_config={**grid, "mask_input_channels": 4},
        mask_decoder_config={
            "hidden_size": 32,
            "mlp_dim": 64,
            "num_attention_heads": 2,
            "iou_head_hidden_dim": 32,
        },
    )
    torch.manual_seed(0)
    SamModel(config).save_pretrained(folder)
    images = SamImageProcessor(size={"longest_edge": 64}, pad_size={"height": 64, "width": 64})
    SamProcessor(image_processor=images).save_pretrained(folder)
    return folder


@pytest.fixture(scope="module")
def local_ray() -> Iterator[Any]:
    """One local Ray for the module (2 CPUs), shut down after."""
    ray = pytest.importorskip("ray")
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield ray
    ray.shutdown()


@pytest.fixture()
def memory() -> Iterator[str]:
    """A fresh folder on fsspec's in-memory file system (this process only), removed after."""
    fs = fsspec.filesystem("memory")
    root = f"/t-{uuid.uuid4().hex}"
    yield f"memory://{root}"
    if fs.exists(root):
        fs.rm(root, recursive=True)


@pytest.fixture(scope="session")
def coco_captions(coco_mini: Path) -> dict[str, str]:
    """COCO val2017 captions by file name, one caption per line (as the importer stores them)."""
    doc = json.loads((coco_mini / "annotations" / "captions_val2017.json").read_text())
    names = {im["id"]: im["file_name"] for im in doc["images"]}
    lines: dict[str, list[str]] = {}
    for ann in sorted(doc["annotations"], key=lambda a: a["id"]):
        lines.setdefault(names[ann["image_id"]], []).append(ann["caption"].strip())
    return {name: "\n".join(caps) for name, caps in lines.items()}


@pytest.fixture()
def make_dataset(workspace: Workspace) -> Callable[..., Dataset]:
    """``make_dataset(name, paths, texts=None)``: a dataset of the workspace whose items are the
    image files ``paths`` (real files, read for their size, dimensions and hash), with optional
    own text per item."""

    def make(
        name: str, paths: Sequence[Path], texts: Sequence[str | None] | None = None
    ) -> Dataset:
        ds = workspace.catalog.create_dataset(name)
        texts = list(texts) if texts is not None else [None] * len(paths)
        items = [
            NewItem(path=str(p), media=read_media_info(p), text=t)
            for p, t in zip(paths, texts, strict=True)
        ]
        workspace.catalog.add_items(ds.id, items)
        return workspace.dataset(name)

    return make


# -- tags: coco-mini imported and embedded once, copied per test ---------------------------------


@pytest.fixture(scope="session")
def coco_text_template(coco_mini: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A workspace folder (SQLite) with coco-mini's val2017 as ``coco`` and train2017 as
    ``coco-train``, imported with their COCO labels and captions and embedded in the ``text``
    space (captions, bundled MiniLM). Built once; use :func:`coco_text_ws` for a private copy."""
    from tagscope.service.embeddings import compute_embeddings
    from tagscope.service.imports import import_coco

    saved = os.environ.pop("TAGSCOPE_DATABASE_URL", None)
    root = tmp_path_factory.mktemp("coco-text") / "ws"
    ws = Workspace.open(root)
    ann = coco_mini / "annotations"
    for name, split in (("coco", "val2017"), ("coco-train", "train2017")):
        import_coco(
            ws,
            name,
            ann / f"instances_{split}.json",
            images=coco_mini / split,
            captions=ann / f"captions_{split}.json",
            thumbnails=False,
        )
        compute_embeddings(ws, name, space="text", kind="text")
        ws.vectors(ws.dataset(name), "text").load()  # compacts the chunks once, here
    ws.catalog.engine.dispose()
    if saved is not None:
        os.environ["TAGSCOPE_DATABASE_URL"] = saved
    yield root


@pytest.fixture()
def coco_text_ws(
    coco_text_template: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Workspace:
    """A private copy of :func:`coco_text_template`, opened."""
    import shutil

    monkeypatch.delenv("TAGSCOPE_DATABASE_URL", raising=False)
    root = tmp_path / "ws"
    shutil.copytree(coco_text_template, root)
    return Workspace.open(root)


# -- an OpenAI-compatible endpoint, local: the one thing these machines cannot reach -------------
class FakeLLM:
    """A real HTTP server speaking the chat-completions API on 127.0.0.1.

    ``answer(body) -> (status, payload)`` decides each reply (default: ``yes`` when the user
    message mentions any of ``self.yes_words``); ``requests`` records (headers, body) of each.
    """

    def __init__(self) -> None:
        import http.server
        import threading

        self.requests: list[tuple[dict[str, str], dict]] = []
        self.yes_words: set[str] = set()
        self.answer: Callable[[dict], tuple[int, object]] = self._by_words
        fake = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                fake.requests.append((dict(self.headers), body))
                status, payload = fake.answer(body)
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: object) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/v1"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @staticmethod
    def reply(content: str) -> dict:
        return {"choices": [{"message": {"role": "assistant", "content": content}}]}

    def _by_words(self, body: dict) -> tuple[int, object]:
        text = " ".join(
            part.get("text", "")
            for part in body["messages"][-1]["content"]
            if isinstance(part, dict)
        ).lower()
        item_text = text.split("item text:", 1)[-1] if "item text:" in text else ""
        yes = any(w in item_text for w in self.yes_words)
        answer = {"answer": "yes" if yes else "no", "reason": "seen in the text"}
        return 200, self.reply(json.dumps(answer))


@pytest.fixture()
def fake_llm(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeLLM]:
    """A local OpenAI-compatible endpoint, configured for the workspace's LLM judge."""
    fake = FakeLLM()
    monkeypatch.setenv("TAGSCOPE_LLM_URL", fake.url)
    monkeypatch.setenv("TAGSCOPE_LLM_MODEL", "judge-1")
    monkeypatch.setenv("TAGSCOPE_LLM_API_KEY", "sk-test")
    yield fake
    fake.server.shutdown()
    fake.server.server_close()


# -- review: a submitted label job with known label changes (what submit_job writes) ------------
def _box(name: str, bbox: list[float]) -> dict:
    area = bbox[2] * bbox[3]
    return {"kind": "box", "name": name, "class_id": None, "geometry": {"bbox": bbox}, "area": area}


def _change(item_id: int, change: str, expert: tuple | None, prelabel: tuple | None) -> dict:
    e, p = (_box(*expert) if expert else None), (_box(*prelabel) if prelabel else None)
    areas = (e or {}).get("area"), (p or {}).get("area")
    return {
        "item_id": item_id,
        "change": change,
        "label_kind": "box",
        "expert_class": expert and expert[0],
        "prelabel_class": prelabel and prelabel[0],
        # The boxes here share a corner: IoU = the smaller area / the larger.
        "iou": min(areas) / max(areas) if e and p else None,
        "expert_area": areas[0],
        "prelabel_area": areas[1],
        "adjustment": areas[0] / areas[1] if e and p else None,
        "expert": e,
        "prelabel": p,
    }


@pytest.fixture()
def review_job() -> Callable[..., tuple[list[int], list[int]]]:
    """``review_job(ws, dataset="d", status="submitted", paths=())``: a dataset of four items
    (100x80, not on disk; or the image files ``paths``) and label job ``j`` whose changes are,
    in id order: 0 item0 cat unchanged, 1 item0 dog->cat, 2 item1 cat geometry (area x2),
    3 item1 added dog, 4 item2 deleted bird, 5 item2 dog unchanged, 6 item3 cat->dog; returns
    (item ids, change ids)."""
    from tagscope.store.label_schema import LabelChangeRow, LabelJobItemRow, LabelJobRow

    def make(
        ws: Workspace, dataset: str = "d", status: str = "submitted", paths: Sequence[Path] = ()
    ) -> tuple[list, list]:
        ds = ws.catalog.create_dataset(dataset)
        if paths:
            items = [NewItem(str(p), read_media_info(p)) for p in paths]
        else:
            media = [MediaInfo(1, 100, 80, "JPEG", f"{dataset}{i}") for i in range(4)]
            items = [NewItem(f"/{dataset}/{i}.jpg", m) for i, m in enumerate(media)]
        ws.catalog.add_items(ds.id, items)
        a, b, c, d = ids = ws.catalog.item_ids(ds.id)
        changes = [
            _change(a, "unchanged", ("cat", [0, 0, 10, 10]), ("cat", [0, 0, 10, 10])),
            _change(a, "class_changed", ("cat", [20, 20, 5, 5]), ("dog", [20, 20, 5, 5])),
            _change(b, "geometry_changed", ("cat", [0, 0, 20, 10]), ("cat", [0, 0, 10, 10])),
            _change(b, "added", ("dog", [50, 50, 5, 10]), None),
            _change(c, "deleted", None, ("bird", [1, 1, 8, 10])),
            _change(c, "unchanged", ("dog", [0, 0, 30, 10]), ("dog", [0, 0, 30, 10])),
            _change(d, "class_changed", ("dog", [5, 5, 4, 4]), ("cat", [5, 5, 4, 4])),
        ]
        with ws.catalog.session() as s:
            job = LabelJobRow(
                dataset_id=ds.id, name="j", kind="manual", status=status, created_by="tester"
            )
            s.add(job)
            s.flush()
            s.add_all(LabelJobItemRow(job_id=job.id, item_id=i) for i in ids)
            rows = [LabelChangeRow(job_id=job.id, status="pending", **c) for c in changes]
            s.add_all(rows)
            s.flush()
            return ids, [r.id for r in rows]

    return make


# -- videos: written with PyAV, with cuts at known frames --------------------------------------


@pytest.fixture(scope="session")
def make_video() -> Callable[..., Path]:
    """``make_video(path, shots, fps=25, size=(160, 96), codec=None)`` writes a video whose
    shots are ``(frames, n)`` pairs: ``frames`` a colour ``(r, g, b)`` (a still shot) or a
    function of the frame's number in the shot giving an RGB array (a pan). Returns ``path``."""
    from fractions import Fraction

    import av
    import numpy as np

    codecs = {".mp4": "mpeg4", ".mov": "mpeg4", ".mkv": "mpeg4", ".webm": "libvpx"}

    def make(
        path: Path,
        shots: Sequence[tuple[object, int]],
        *,
        fps: int = 25,
        size: tuple[int, int] = (160, 96),
        codec: str | None = None,
    ) -> Path:
        width, height = size
        with av.open(str(path), "w") as out:
            stream = out.add_stream(codec or codecs[path.suffix], rate=fps)
            stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
            if stream.codec_context.name == "mpeg4":
                stream.codec_context.bit_rate = 2_000_000
            pts = 0
            for frames, n in shots:
                for i in range(n):
                    if callable(frames):
                        rgb = frames(i)
                    else:
                        rgb = np.full((height, width, 3), frames, np.uint8)
                    frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(rgb), format="rgb24")
                    frame.pts, frame.time_base = pts, Fraction(1, fps)
                    pts += 1
                    out.mux(stream.encode(frame))
            out.mux(stream.encode())
        return path

    return make
