"""Near-duplicates without a model: mirror images and crops found by the phash space's variants.

Every real photo of the sample data (imagenette-dev and coco-mini: 739) gets a copy of each kind:
mirrored left-right; cropped to 90% of the area (95% of each side) at a random place, or at the
centre; cropped to 90% of each side (81% of the area) at a random place; each re-saved as JPEG
quality 80. Per kind, the originals and their copies (2 x 739 rows) are scanned for pairs at the
default threshold as ``find_duplicates`` does (stored float16 hashes, the variants of each
image, ``VARIANT_PENALTY``): ``found`` counts copies paired with their original, ``false_pairs``
every other pair (two different photos, or a copy and another photo); ``found_hash_only`` is
the same scan without variants (the behaviour before them). Photos are decoded as the embedding
does (at least 256 pixels a side). Times are per image, on one thread: ``variants_ms`` is the
work of an item's variants (decode the file, hash its 19 variants: once, in the embedding job;
``find_duplicates`` did it on every call before they were stored), ``scan_ms`` the
pair search per row as ``find_duplicates`` does it (the hashes' scan, then multi-index hashing
for the variants), ``dense_scan_ms`` the dense scan of every variant against every row (checked
to find the same pairs). ``service_*``: the originals imported into a workspace and embedded
(``embed_ms`` per item, the variants stored), then ``find_duplicates`` per item, CPU (all threads)
and wall: ``stored`` reads the stored variants, ``rehashed`` (the behaviour before they were
stored, and the fallback of a space embedded before) decodes and hashes every image again; both
find the same pairs. Prints ONE JSON line. Goal: at least 90% of each kind found, no false pair.

    python bench/bench_phash_duplicates.py [--n 739] [--seed 0]
"""

from __future__ import annotations

import argparse
import io
import json
import os
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from _machine import cpu_info
from tagscope.embed.phash import N_VARIANTS, VARIANT_PENALTY, PHashEmbedder
from tagscope.index.pairs import best_pairs, binary_variant_pairs, scan_pairs
from tagscope.media.images import load_rgb
from tagscope.service import Workspace
from tagscope.service.embeddings import compute_embeddings, phash_variant_store
from tagscope.service.imports import import_images
from tagscope.service.search import default_min_score, find_duplicates

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
MIN_SIDE = PHashEmbedder.min_image_side
MIN_SCORE = default_min_score("phash")
K = 100_000


def _jpeg(image: Image.Image) -> Image.Image:
    buf = io.BytesIO()
    image.save(buf, "JPEG", quality=80)
    buf.seek(0)
    return Image.open(buf).convert("RGB")


def _crop(image: Image.Image, side: float, place: tuple[float, float]) -> Image.Image:
    w, h = image.size
    cw, ch = round(w * side), round(h * side)
    x, y = round((w - cw) * place[0]), round((h - ch) * place[1])
    return image.crop((x, y, x + cw, y + ch))


def copies_of(photos: list[Image.Image], kind: str, rng: np.random.Generator) -> list[Image.Image]:
    out = []
    for im in photos:
        place = (0.5, 0.5) if kind.endswith("centre") else tuple(rng.random(2))
        if kind == "flip":
            copy = im.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
        elif kind.startswith("crop_90_area"):
            copy = _crop(im, 0.9**0.5, place)
        else:  # crop_90_side
            copy = _crop(im, 0.9, place)
        out.append(_jpeg(copy))
    return out


def scan(vectors: np.ndarray, variants: np.ndarray | None) -> tuple[set, float]:
    """The pairs at the default threshold by the dense scan (every variant against every row;
    none: the hashes alone), and its seconds."""
    start = time.perf_counter()
    result = scan_pairs(
        vectors,
        k_pairs=K,
        min_score=MIN_SCORE,
        variants=variants,
        variant_penalty=VARIANT_PENALTY,
    )
    seconds = time.perf_counter() - start
    return set(zip(result.pair_a.tolist(), result.pair_b.tolist(), strict=True)), seconds


def indexed(vectors: np.ndarray, variants: np.ndarray) -> tuple[set, float]:
    """The same pairs as ``find_duplicates`` finds them: the hashes' scan, then the variants
    within 4 bits by multi-index hashing; and the seconds."""
    start = time.perf_counter()
    direct = scan_pairs(vectors, k_pairs=K, min_score=MIN_SCORE)
    max_bits = round(32 * (1 - MIN_SCORE - VARIANT_PENALTY))
    a, b, bits = binary_variant_pairs(vectors, variants, max_bits)
    _, a, b = best_pairs(
        np.concatenate([direct.pair_a, a]),
        np.concatenate([direct.pair_b, b]),
        np.concatenate([direct.pair_scores, 1 - bits / 32 - VARIANT_PENALTY]),
        K,
    )
    seconds = time.perf_counter() - start
    return set(zip(a.tolist(), b.tolist(), strict=True)), seconds


def _timed(call: object) -> tuple[object, float, float]:
    """``call()``, its CPU seconds (every thread of the process) and wall seconds."""
    cpu, wall = time.process_time(), time.perf_counter()
    result = call()  # type: ignore[operator]
    return result, time.process_time() - cpu, time.perf_counter() - wall


def service_times(paths: list[Path]) -> dict[str, float]:
    """Per item, in ms: the phash embedding job, and ``find_duplicates`` with the stored variants
    and with them gone (every image hashed again)."""
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "photos"
        folder.mkdir()
        for i, path in enumerate(paths):
            (folder / f"{i:05d}{path.suffix}").symlink_to(path)
        os.environ.pop("TAGSCOPE_DATABASE_URL", None)
        ws = Workspace.open(Path(tmp) / "ws")
        import_images(ws, "bench", folder, thumbnails=False, follow_symlinks=True)
        _, embed_cpu, embed_wall = _timed(lambda: compute_embeddings(ws, "bench", kind="phash"))
        stored, stored_cpu, stored_wall = _timed(lambda: find_duplicates(ws, "bench"))
        side = phash_variant_store(ws.vectors(ws.dataset("bench"), "phash")).folder
        shutil.move(side, Path(tmp) / "variants")
        again, again_cpu, again_wall = _timed(lambda: find_duplicates(ws, "bench"))
        assert again == stored
    n = len(paths) / 1e3
    return {
        "service_embed_ms": round(embed_cpu / n, 2),
        "service_embed_wall_ms": round(embed_wall / n, 2),
        "service_stored_ms": round(stored_cpu / n, 3),
        "service_stored_wall_ms": round(stored_wall / n, 3),
        "service_rehashed_ms": round(again_cpu / n, 3),
        "service_rehashed_wall_ms": round(again_wall / n, 3),
        "variant_bytes_per_item": (1 + N_VARIANTS) * 8,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=None, help="photos to use (default: all)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    torch.set_num_threads(1)
    paths = sorted((DATA / "imagenette-dev").rglob("*.JPEG")) + sorted(
        (DATA / "coco-mini").rglob("*.jpg")
    )
    paths = paths[: args.n] if args.n else paths
    embedder = PHashEmbedder()

    start = time.process_time()
    photos = [load_rgb(p, min_side=MIN_SIDE) for p in paths]
    decode_ms = (time.process_time() - start) / len(photos) * 1e3
    start = time.process_time()
    original_variants = embedder.encode_variants(photos)
    hash_ms = (time.process_time() - start) / len(photos) * 1e3
    originals = embedder.encode_images(photos)
    n = len(photos)

    rng = np.random.default_rng(args.seed)
    kinds: dict[str, dict[str, int]] = {}
    scan_s, dense_s = [], []
    for kind in ("flip", "crop_90_area_random", "crop_90_area_centre", "crop_90_side_random"):
        copies = copies_of(photos, kind, rng)
        vectors = np.concatenate([originals, embedder.encode_images(copies)]).astype(np.float16)
        variants = np.concatenate([original_variants, embedder.encode_variants(copies)])
        planted = {(i, n + i) for i in range(n)}
        pairs, seconds = indexed(vectors, variants.astype(np.float16))
        dense, dense_seconds = scan(vectors, variants.astype(np.float16))
        assert pairs == dense, kind  # both ways find the same pairs
        scan_s.append(seconds / len(vectors))
        dense_s.append(dense_seconds / len(vectors))
        hash_only, _ = scan(vectors, None)
        kinds[kind] = {
            "found": len(pairs & planted),
            "found_hash_only": len(hash_only & planted),
            "false_pairs": len(pairs - planted),
        }
    closest = scan_pairs(
        originals.astype(np.float16),
        k_pairs=1,
        variants=original_variants.astype(np.float16),
        variant_penalty=VARIANT_PENALTY,
    ).pair_scores
    print(
        json.dumps(
            {
                "bench": "phash_duplicates",
                "n_photos": n,
                "n_variants": N_VARIANTS,
                "variant_penalty_bits": round(VARIANT_PENALTY * 32),
                "min_score": MIN_SCORE,
                **{
                    f"{kind}_{key}": value
                    for kind, counts in kinds.items()
                    for key, value in counts.items()
                },
                "share_found": {k: round(c["found"] / n, 3) for k, c in kinds.items()},
                "false_pairs": sum(c["false_pairs"] for c in kinds.values()),
                "closest_different_photos_score": round(float(closest[0]), 4),
                "decode_ms": round(decode_ms, 2),
                "variants_ms": round(decode_ms + hash_ms, 2),
                "n_rows_scanned": 2 * n,
                "scan_ms": round(float(np.mean(scan_s)) * 1e3, 3),
                "dense_scan_ms": round(float(np.mean(dense_s)) * 1e3, 3),
                **service_times(paths),
                **cpu_info(),
            }
        )
    )


if __name__ == "__main__":
    main()
