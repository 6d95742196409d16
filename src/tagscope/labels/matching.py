"""Matching an item's expert labels to its prelabels (F-71), as a submitted label job does.

Per item and per geometry kind, boxes, polygons and masks are paired by IoU with the Hungarian
method (the pairing with the largest total IoU; between equal IoUs, same-class pairs first); a
pair below the IoU threshold is no pair. Classifications are matched by item: the main labels
of both sides (or the only classification of a side) with each other, the other classes by name
(multi-label). Polylines have no area: one of each side with the same points is a pair.

Each expert label and each prelabel ends in exactly one :class:`Match`:

- ``unchanged``: same class and the same geometry (IoU >= 1 - 1e-9);
- ``geometry_changed``: same class, another geometry;
- ``class_changed``: a pair of different classes (its IoU and areas are kept);
- ``added``: an expert label without prelabel; ``deleted``: a prelabel without expert label.

Areas are in pixels: a box ``w * h``, a polygon's parts under the even-odd rule (a part inside
another is a hole), a mask's pixel count (COCO RLE). ``adjustment`` is expert area / prelabel
area.

>>> from tagscope.domain import Label, LabelKind
>>> box = lambda name, b: Label(LabelKind.BOX, name, geometry={"bbox": b})
>>> [str(m.change) for m in match([box("cat", [0, 0, 10, 10])], [box("cat", [0, 0, 10, 8])])]
['geometry_changed']
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from tagscope._lazy import deferred
from tagscope.domain import Label, LabelKind
from tagscope.domain.geometry import polygon_region
from tagscope.domain.label_jobs import ChangeKind

if TYPE_CHECKING:
    import shapely
    from pycocotools import mask as coco_mask
    from scipy import optimize
else:
    shapely = deferred("shapely")
    coco_mask = deferred("pycocotools.mask")
    optimize = deferred("scipy.optimize")

DEFAULT_IOU = 0.5
SAME = 1 - 1e-9  # the IoU from which two geometries are the same
_TIE = 1e-9  # added to a same-class pair's IoU: it wins a tie, never a real difference


@dataclass(frozen=True, slots=True)
class Match:
    """One expert label (index into the expert list) and its prelabel (index), either may be
    ``None``; IoU and areas where the kind has them."""

    change: ChangeKind
    label_kind: LabelKind
    expert: int | None
    prelabel: int | None
    iou: float | None = None
    expert_area: float | None = None
    prelabel_area: float | None = None

    @property
    def adjustment(self) -> float | None:
        """Expert area / prelabel area (None unless both have an area and it is not zero)."""
        if self.expert_area is None or not self.prelabel_area:
            return None
        return self.expert_area / self.prelabel_area


# -- areas and IoU ------------------------------------------------------------------------------
def box_iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """IoU of every box of ``a`` (n, 4) with every box of ``b`` (m, 4), ``[x, y, w, h]``."""
    a = np.asarray(a, np.float64).reshape(-1, 4)
    b = np.asarray(b, np.float64).reshape(-1, 4)
    lo = np.maximum(a[:, None, :2], b[None, :, :2])
    hi = np.minimum(a[:, None, :2] + a[:, None, 2:], b[None, :, :2] + b[None, :, 2:])
    inter = np.prod(np.clip(hi - lo, 0, None), axis=2)
    union = (a[:, 2] * a[:, 3])[:, None] + (b[:, 2] * b[:, 3])[None, :] - inter
    return np.divide(inter, union, out=np.zeros_like(inter), where=union > 0)


def polygon_iou(a: Sequence[shapely.Geometry], b: Sequence[shapely.Geometry]) -> np.ndarray:
    """IoU of every region of ``a`` with every region of ``b``."""
    out = np.zeros((len(a), len(b)))
    for i, x in enumerate(a):
        for j, y in enumerate(b):
            if not x.intersects(y):
                continue
            inter = shapely.intersection(x, y).area
            union = x.area + y.area - inter
            out[i, j] = inter / union if union > 0 else 0.0
    return out


def rle(geometry: dict[str, Any]) -> dict[str, Any]:
    """A mask label's COCO RLE as pycocotools reads it (uncompressed counts compressed)."""
    data = geometry["rle"]
    h, w = (int(v) for v in data["size"])
    if isinstance(data["counts"], list):
        return coco_mask.frPyObjects(data, h, w)
    return {"size": [h, w], "counts": data["counts"]}


def mask_iou(a: Sequence[dict[str, Any]], b: Sequence[dict[str, Any]]) -> np.ndarray:
    """IoU of every RLE of ``a`` with every RLE of ``b``; masks of other sizes do not overlap."""
    out = np.zeros((len(a), len(b)))
    for size in {tuple(r["size"]) for r in a}:
        rows = [i for i, r in enumerate(a) if tuple(r["size"]) == size]
        cols = [j for j, r in enumerate(b) if tuple(r["size"]) == size]
        if cols:
            found = coco_mask.iou([a[i] for i in rows], [b[j] for j in cols], [0] * len(cols))
            out[np.ix_(rows, cols)] = np.asarray(found, np.float64).reshape(len(rows), len(cols))
    return out


@dataclass(frozen=True, slots=True)
class _Geometric:
    parse: Callable[[dict[str, Any]], Any]
    iou: Callable[[Sequence[Any], Sequence[Any]], np.ndarray]
    areas: Callable[[Sequence[Any]], list[float | None]]


def _mask_areas(rles: Sequence[dict[str, Any]]) -> list[float | None]:
    return [float(coco_mask.area(r)) for r in rles]


_GEOMETRIC = {
    LabelKind.BOX: _Geometric(
        lambda g: [float(v) for v in g["bbox"]],
        box_iou,
        lambda boxes: [b[2] * b[3] for b in boxes],
    ),
    LabelKind.POLYGON: _Geometric(
        lambda g: polygon_region(g["polygons"]), polygon_iou, lambda ps: [p.area for p in ps]
    ),
    LabelKind.MASK: _Geometric(rle, mask_iou, _mask_areas),
}


# -- matching -----------------------------------------------------------------------------------
def match(
    expert: Sequence[Label], prelabels: Sequence[Label], iou: float = DEFAULT_IOU
) -> list[Match]:
    """Match one item's expert labels to its prelabels (see the module's description).

    Raises
    ------
    ValueError
        ``iou`` outside (0, 1].
    """
    if not 0 < iou <= 1:
        raise ValueError(f"iou must be within (0, 1], got {iou}")
    out: list[Match] = []
    for kind in LabelKind:
        e = [i for i, lab in enumerate(expert) if lab.kind == kind]
        p = [j for j, lab in enumerate(prelabels) if lab.kind == kind]
        if not e and not p:
            continue
        if kind == LabelKind.CLASSIFICATION:
            pairs = _classification_pairs([expert[i] for i in e], [prelabels[j] for j in p])
            out.extend(_matches(kind, expert, prelabels, e, p, pairs))
        elif kind in _GEOMETRIC:
            out.extend(_geometric_matches(kind, expert, prelabels, e, p, iou))
        else:
            pairs = _equal_pairs([expert[i] for i in e], [prelabels[j] for j in p])
            out.extend(_matches(kind, expert, prelabels, e, p, pairs))
    return out


def _geometric_matches(
    kind: LabelKind,
    expert: Sequence[Label],
    prelabels: Sequence[Label],
    e: list[int],
    p: list[int],
    threshold: float,
) -> list[Match]:
    geo = _GEOMETRIC[kind]
    eg = [geo.parse(expert[i].geometry or {}) for i in e]
    pg = [geo.parse(prelabels[j].geometry or {}) for j in p]
    ea, pa = geo.areas(eg), geo.areas(pg)
    ious = geo.iou(eg, pg) if e and p else np.zeros((len(e), len(p)))
    same = np.array([[expert[i].name == prelabels[j].name for j in p] for i in e], bool)
    pairs: dict[int, tuple[int, float]] = {}
    if e and p:
        rows, cols = optimize.linear_sum_assignment(
            ious + _TIE * same.reshape(ious.shape), maximize=True
        )
        pairs = {
            int(r): (int(c), float(ious[r, c]))
            for r, c in zip(rows, cols, strict=True)
            if ious[r, c] >= threshold
        }
    out = []
    for r, i in enumerate(e):
        if r not in pairs:
            out.append(Match(ChangeKind.ADDED, kind, i, None, None, ea[r], None))
            continue
        c, value = pairs[r]
        if expert[i].name != prelabels[p[c]].name:
            change = ChangeKind.CLASS_CHANGED
        else:
            change = ChangeKind.UNCHANGED if value >= SAME else ChangeKind.GEOMETRY_CHANGED
        out.append(Match(change, kind, i, p[c], value, ea[r], pa[c]))
    paired = {c for c, _ in pairs.values()}
    out.extend(
        Match(ChangeKind.DELETED, kind, None, j, None, None, pa[c])
        for c, j in enumerate(p)
        if c not in paired
    )
    return out


def _classification_pairs(expert: Sequence[Label], prelabels: Sequence[Label]) -> dict[int, int]:
    """Expert position -> prelabel position: the main labels, then the other classes by name."""
    pairs: dict[int, int] = {}
    main_e, main_p = _main(expert), _main(prelabels)
    if main_e is not None and main_p is not None:
        pairs[main_e] = main_p
    free = {lab.name: j for j, lab in enumerate(prelabels) if j not in pairs.values()}
    for i, lab in enumerate(expert):
        if i not in pairs and lab.name in free:
            pairs[i] = free.pop(lab.name)
    return pairs


def _main(labels: Sequence[Label]) -> int | None:
    """The position of the main label, or of the only label; None for several without one."""
    mains = [i for i, lab in enumerate(labels) if lab.is_main]
    if mains:
        return mains[0]
    return 0 if len(labels) == 1 else None


def _equal_pairs(expert: Sequence[Label], prelabels: Sequence[Label]) -> dict[int, int]:
    """Pairs of the same geometry (polylines), the same class first."""
    pairs: dict[int, int] = {}
    for same_class in (True, False):
        for i, lab in enumerate(expert):
            if i in pairs:
                continue
            j = next(
                (
                    j
                    for j, pre in enumerate(prelabels)
                    if j not in pairs.values()
                    and pre.geometry == lab.geometry
                    and (pre.name == lab.name) == same_class
                ),
                None,
            )
            if j is not None:
                pairs[i] = j
    return pairs


def _matches(
    kind: LabelKind,
    expert: Sequence[Label],
    prelabels: Sequence[Label],
    e: list[int],
    p: list[int],
    pairs: dict[int, int],
) -> list[Match]:
    """Matches of labels without area from pairs of positions (within ``e`` and ``p``)."""
    out = []
    for r, i in enumerate(e):
        if r not in pairs:
            out.append(Match(ChangeKind.ADDED, kind, i, None))
            continue
        j = p[pairs[r]]
        same = expert[i].name == prelabels[j].name
        out.append(Match(ChangeKind.UNCHANGED if same else ChangeKind.CLASS_CHANGED, kind, i, j))
    paired = set(pairs.values())
    out.extend(Match(ChangeKind.DELETED, kind, None, j) for c, j in enumerate(p) if c not in paired)
    return out


__all__ = [
    "DEFAULT_IOU",
    "Match",
    "box_iou",
    "mask_iou",
    "match",
    "polygon_iou",
]
