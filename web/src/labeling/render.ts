// The canvas renderer. The image and every shape but the selected one are drawn into tiles (128
// device pixels, at a zoom level: a power of two of device pixels per image pixel), cached until
// those shapes change; a frame while panning or zooming draws the tiles that meet the view, and
// renders the missing ones within a time budget (a tile of another level stands in meanwhile).
// A tile draws only the shapes the spatial index finds in it, each from a cached Path2D, plain
// outlines batched per colour. The selected shape and what is being drawn go on top as vectors.
import type { SpatialIndex } from "./geom";
import type { Mask, Shape } from "./model";

export interface View {
  scale: number;
  tx: number;
  ty: number;
}

export interface Overlay {
  selected: number | null;
  /** The vertex handles to show (edit mode): of the selected shape. */
  handles: boolean;
  /** The ring being drawn (image pixels). */
  drawing: number[] | null;
  closed: boolean;
  /** A rectangle being dragged (box tool): [x, y, w, h]. */
  rect: number[] | null;
  /** The brush's outline: [x, y, r]. */
  brush: number[] | null;
  /** The mask being painted (redrawn from its pixels every frame). */
  live: Mask | null;
  /** The smart tool's rectangle and strokes (foreground, background). */
  smart: { rect: number[] | null; fg: number[][]; bg: number[][] } | null;
}

const TILE = 128; // device pixels
const MAX_TILES = 600; // cached (64 KiB each)
const BUDGET_MS = 6; // of tile rendering per frame, while stand-ins exist

const paths = new WeakMap<Shape, Path2D>();
const bitmaps = new WeakMap<Mask, HTMLCanvasElement>();

function pathOf(s: Shape): Path2D {
  let p = paths.get(s);
  if (p) return p;
  p = new Path2D();
  if (s.kind === "box") {
    const [x, y, w, h] = s.rings[0];
    p.rect(x, y, w, h);
  } else
    for (const r of s.rings) {
      p.moveTo(r[0], r[1]);
      for (let i = 2; i < r.length; i += 2) p.lineTo(r[i], r[i + 1]);
      if (s.kind === "polygon") p.closePath();
    }
  paths.set(s, p);
  return p;
}

function bitmapOf(m: Mask, color: string, fresh: boolean): HTMLCanvasElement {
  let c = bitmaps.get(m);
  if (c && !fresh) return c;
  c ??= document.createElement("canvas");
  c.width = m.w;
  c.height = m.h;
  const ctx = c.getContext("2d")!;
  ctx.fillStyle = color;
  ctx.fillRect(0, 0, 1, 1);
  const [r, g, b] = ctx.getImageData(0, 0, 1, 1).data;
  const img = ctx.createImageData(m.w, m.h);
  for (let i = 0; i < m.data.length; i++)
    if (m.data[i]) {
      img.data[4 * i] = r;
      img.data[4 * i + 1] = g;
      img.data[4 * i + 2] = b;
      img.data[4 * i + 3] = 255;
    }
  ctx.putImageData(img, 0, 0);
  bitmaps.set(m, c);
  return c;
}

// -- tiles ---------------------------------------------------------------------------------------

interface Scene {
  image: HTMLImageElement | null;
  shapes: Shape[]; // every shape but the selected one, in z-order
  tiles: Map<string, HTMLCanvasElement>;
}
let scene: Scene | null = null;

/** The cache of tiles for these shapes (a new one when they or the image changed). */
function sceneOf(image: HTMLImageElement | null, all: Shape[], selected: number | null): Scene {
  const shapes = all.filter((s) => s.uid !== selected);
  const same =
    scene &&
    scene.image === image &&
    scene.shapes.length === shapes.length &&
    scene.shapes.every((s, i) => s === shapes[i]);
  if (!same) scene = { image, shapes, tiles: new Map() };
  return scene!;
}

function renderTile(
  sc: Scene,
  index: SpatialIndex,
  level: number,
  tx: number,
  ty: number,
  colorOf: (name: string) => string,
  selected: number | null,
  dpr: number,
): HTMLCanvasElement {
  const res = 2 ** level;
  const size = TILE / res; // image pixels
  const x0 = tx * size, y0 = ty * size;
  const c = document.createElement("canvas");
  c.width = c.height = TILE;
  const ctx = c.getContext("2d")!;
  ctx.setTransform(res, 0, 0, res, -x0 * res, -y0 * res);
  if (sc.image) {
    ctx.imageSmoothingEnabled = res < 4 * dpr;
    ctx.drawImage(sc.image, 0, 0);
  }
  const list = index.query([x0, y0, x0 + size, y0 + size]).filter((s) => s.uid !== selected);
  drawShapes(ctx, list, colorOf, dpr / res);
  return c;
}

/** Draws `list` (none selected) with lines of `px` image pixels (one CSS pixel). */
function drawShapes(ctx: CanvasRenderingContext2D, list: Shape[], colorOf: (name: string) => string, px: number): void {
  const batches = new Map<string, { fill: Path2D; stroke: Path2D }>();
  for (const sh of list) {
    const color = colorOf(sh.name);
    if (sh.kind === "mask") {
      ctx.globalAlpha = 0.45;
      ctx.imageSmoothingEnabled = false;
      ctx.drawImage(bitmapOf(sh.mask!, color, false), 0, 0);
      ctx.globalAlpha = 1;
      continue;
    }
    // Plain outlines of a colour are filled and stroked as one path.
    if (!sh.prelabel && (sh.kind !== "polygon" || sh.rings.length === 1)) {
      let b = batches.get(color);
      if (!b) batches.set(color, (b = { fill: new Path2D(), stroke: new Path2D() }));
      if (sh.kind === "polygon") addRing(b.fill, sh.rings[0]);
      else if (sh.kind === "box") b.fill.addPath(pathOf(sh));
      b.stroke.addPath(pathOf(sh));
      continue;
    }
    drawShape(ctx, sh, color, px, false);
  }
  for (const [color, b] of batches) {
    ctx.fillStyle = color;
    ctx.globalAlpha = 0.25;
    ctx.fill(b.fill);
    ctx.globalAlpha = 1;
    ctx.strokeStyle = color;
    ctx.lineWidth = 1.5 * px;
    ctx.stroke(b.stroke);
  }
}

function drawShape(ctx: CanvasRenderingContext2D, sh: Shape, color: string, px: number, selected: boolean): void {
  const p = pathOf(sh);
  if (sh.kind !== "polyline") {
    ctx.fillStyle = color;
    ctx.globalAlpha = selected ? 0.4 : 0.25;
    ctx.fill(p, "evenodd");
    ctx.globalAlpha = 1;
  }
  ctx.strokeStyle = color;
  ctx.lineWidth = (selected ? 3 : 1.5) * px;
  ctx.setLineDash(sh.prelabel ? [6 * px, 4 * px] : []);
  ctx.stroke(p);
  ctx.setLineDash([]);
}

/** Draws the tiles of the view's level that meet the view; returns how many were rendered. */
function drawTiles(
  ctx: CanvasRenderingContext2D,
  sc: Scene,
  index: SpatialIndex,
  view: View,
  box: [number, number, number, number],
  colorOf: (name: string) => string,
  selected: number | null,
  dpr: number,
): number {
  const level = Math.max(-4, Math.min(6, Math.round(Math.log2(view.scale * dpr))));
  const range = (l: number) => {
    const size = TILE / 2 ** l;
    return [Math.floor(box[0] / size), Math.floor(box[1] / size), Math.floor(box[2] / size), Math.floor(box[3] / size), size];
  };
  const [ax, ay, bx, by, size] = range(level);
  const key = (l: number, x: number, y: number) => `${l}:${x}:${y}`;
  const missing: [number, number][] = [];
  for (let y = ay; y <= by; y++) for (let x = ax; x <= bx; x++) if (!sc.tiles.has(key(level, x, y))) missing.push([x, y]);
  // Stand-ins first (tiles of a near level), so that the view's own tiles go on top.
  if (missing.length) {
    for (const dl of [-1, 1, -2, 2, -3, 3]) {
      const l = level + dl;
      const [cx, cy, dx, dy, s2] = range(l);
      for (let y = cy; y <= dy; y++)
        for (let x = cx; x <= dx; x++) {
          const t = sc.tiles.get(key(l, x, y));
          if (t) ctx.drawImage(t, x * s2, y * s2, s2, s2);
        }
    }
  }
  const hasStandIns = sc.tiles.size > 0;
  const start = performance.now();
  let rendered = 0;
  for (const [x, y] of missing) {
    if (hasStandIns && rendered && performance.now() - start > BUDGET_MS) break;
    sc.tiles.set(key(level, x, y), renderTile(sc, index, level, x, y, colorOf, selected, dpr));
    rendered++;
  }
  for (let y = ay; y <= by; y++)
    for (let x = ax; x <= bx; x++) {
      const k = key(level, x, y);
      const t = sc.tiles.get(k);
      if (!t) continue;
      // most recently used last: the first ones are dropped when the cache is full
      sc.tiles.delete(k);
      sc.tiles.set(k, t);
      ctx.drawImage(t, x * size, y * size, size, size);
    }
  while (sc.tiles.size > MAX_TILES) sc.tiles.delete(sc.tiles.keys().next().value!);
  if (rendered < missing.length) requestAnimationFrame(() => again?.());
  return rendered;
}

/** Called when tiles are still missing after a frame (the page draws again). */
let again: (() => void) | null = null;
export function onMissingTiles(fn: (() => void) | null): void {
  again = fn;
}

export function render(
  canvas: HTMLCanvasElement,
  image: HTMLImageElement | null,
  view: View,
  index: SpatialIndex,
  all: Shape[],
  colorOf: (name: string) => string,
  o: Overlay,
): number {
  const ctx = canvas.getContext("2d")!;
  const dpr = window.devicePixelRatio || 1;
  ctx.setTransform(1, 0, 0, 1, 0, 0);
  ctx.clearRect(0, 0, canvas.width, canvas.height);
  const s = view.scale * dpr;
  ctx.setTransform(s, 0, 0, s, view.tx * dpr, view.ty * dpr);
  const px = 1 / view.scale; // one CSS pixel in image pixels
  const box: [number, number, number, number] = [
    -view.tx / view.scale,
    -view.ty / view.scale,
    (canvas.width / dpr - view.tx) / view.scale,
    (canvas.height / dpr - view.ty) / view.scale,
  ];
  // The tiles cover the image and the shapes, nothing beyond.
  const b = index.bounds;
  const w = image?.naturalWidth ?? 0, h = image?.naturalHeight ?? 0;
  const content: [number, number, number, number] = [
    Math.max(box[0], Math.min(0, b[0])),
    Math.max(box[1], Math.min(0, b[1])),
    Math.min(box[2], Math.max(w, b[2])),
    Math.min(box[3], Math.max(h, b[3])),
  ];
  if (content[0] < content[2] && content[1] < content[3]) {
    ctx.imageSmoothingEnabled = true;
    drawTiles(ctx, sceneOf(image, all, o.selected), index, view, content, colorOf, o.selected, dpr);
  }
  const sel = all.find((sh) => sh.uid === o.selected);
  ctx.lineJoin = "round";
  if (sel) {
    const color = colorOf(sel.name);
    if (sel.kind === "mask") {
      ctx.globalAlpha = 0.6;
      ctx.imageSmoothingEnabled = false;
      ctx.drawImage(bitmapOf(o.live ?? sel.mask!, color, !!o.live), 0, 0);
      ctx.globalAlpha = 1;
    } else drawShape(ctx, sel, color, px, true);
  } else if (o.live) {
    ctx.globalAlpha = 0.6;
    ctx.imageSmoothingEnabled = false;
    ctx.drawImage(bitmapOf(o.live, "#ff3b6b", true), 0, 0);
    ctx.globalAlpha = 1;
  }
  if (sel && o.handles && sel.kind !== "mask") {
    ctx.fillStyle = "#fff";
    ctx.strokeStyle = "#000";
    ctx.lineWidth = px;
    const rings = sel.kind === "box" ? boxCorners(sel.rings[0]) : sel.rings;
    for (const r of rings)
      for (let i = 0; i < r.length; i += 2) {
        ctx.fillRect(r[i] - 3 * px, r[i + 1] - 3 * px, 6 * px, 6 * px);
        ctx.strokeRect(r[i] - 3 * px, r[i + 1] - 3 * px, 6 * px, 6 * px);
      }
  }
  ctx.strokeStyle = "#ff3b6b";
  ctx.lineWidth = 2 * px;
  if (o.drawing && o.drawing.length) {
    const d = o.drawing;
    ctx.beginPath();
    ctx.moveTo(d[0], d[1]);
    for (let i = 2; i < d.length; i += 2) ctx.lineTo(d[i], d[i + 1]);
    if (o.closed) ctx.closePath();
    ctx.stroke();
    ctx.fillStyle = "#ff3b6b";
    for (let i = 0; i < d.length; i += 2) ctx.fillRect(d[i] - 3 * px, d[i + 1] - 3 * px, 6 * px, 6 * px);
  }
  if (o.rect) ctx.strokeRect(o.rect[0], o.rect[1], o.rect[2], o.rect[3]);
  if (o.smart) {
    const r = o.smart.rect;
    ctx.setLineDash([6 * px, 4 * px]);
    if (r) ctx.strokeRect(r[0], r[1], r[2], r[3]);
    ctx.setLineDash([]);
    ctx.lineWidth = 3 * px;
    for (const [lines, color] of [[o.smart.fg, "#2ecc71"], [o.smart.bg, "#e74c3c"]] as const) {
      ctx.strokeStyle = color;
      for (const l of lines) {
        ctx.beginPath();
        ctx.moveTo(l[0], l[1]);
        for (let i = 2; i < l.length; i += 2) ctx.lineTo(l[i], l[i + 1]);
        ctx.stroke();
      }
    }
  }
  if (o.brush) {
    ctx.beginPath();
    ctx.arc(o.brush[0], o.brush[1], o.brush[2], 0, 2 * Math.PI);
    ctx.stroke();
  }
  return index.query(box).length;
}

function boxCorners(b: number[]): number[][] {
  const [x, y, w, h] = b;
  return [[x, y, x + w, y, x + w, y + h, x, y + h]];
}

/** Adds a ring turning one way, so that under the nonzero rule overlapping shapes of a batch add
 * up instead of cancelling out. */
function addRing(p: Path2D, r: number[]): void {
  let area = 0;
  const n = r.length / 2;
  for (let i = 0, j = n - 1; i < n; j = i++) area += r[2 * j] * r[2 * i + 1] - r[2 * i] * r[2 * j + 1];
  if (area >= 0) {
    p.moveTo(r[0], r[1]);
    for (let i = 2; i < r.length; i += 2) p.lineTo(r[i], r[i + 1]);
  } else {
    p.moveTo(r[r.length - 2], r[r.length - 1]);
    for (let i = r.length - 4; i >= 0; i -= 2) p.lineTo(r[i], r[i + 1]);
  }
  p.closePath();
}
