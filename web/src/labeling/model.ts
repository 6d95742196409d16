// The labeling tool's model: shapes in image pixels (immutable: an edit makes a new shape, so an
// undo step is just the list of shapes before it), their conversion from and to the label REST
// geometry, and the undo stack of one item.
import type { Answer } from "../api";
import { decodeCounts, encodeMask } from "../rle";

export type Kind = "box" | "polygon" | "polyline" | "mask";

/** A bitmap at image size, row-major, 1 = foreground. */
export interface Mask {
  w: number;
  h: number;
  data: Uint8Array;
}

export interface Shape {
  uid: number;
  kind: Kind;
  /** The class (the label's name). */
  name: string;
  /** box: [[x, y, w, h]]; polygon: rings (outer parts and holes, even-odd); polyline: lines;
   * each a flat [x0, y0, x1, y1, ...] in image pixels. */
  rings: number[][];
  mask: Mask | null;
  /** A prelabel of a label job (shown dashed, not saved as ground truth). */
  prelabel: boolean;
  attributes: Record<string, unknown>;
  /** [xmin, ymin, xmax, ymax] */
  bbox: [number, number, number, number];
}

/** The item's classification: its class and the ontology questions' answers. */
export interface Classification {
  name: string;
  answers: Record<string, Answer>;
}

export interface State {
  shapes: Shape[];
  classification: Classification;
}

let nextUid = 1;

export function makeShape(
  kind: Kind,
  name: string,
  rings: number[][],
  mask: Mask | null = null,
  extra: Partial<Pick<Shape, "prelabel" | "attributes" | "uid">> = {},
): Shape {
  return {
    uid: extra.uid ?? nextUid++,
    kind,
    name,
    rings,
    mask,
    prelabel: extra.prelabel ?? false,
    attributes: extra.attributes ?? {},
    bbox: bboxOf(kind, rings, mask),
  };
}

/** The same shape with other rings or mask (its bbox recomputed). */
export function withGeometry(s: Shape, rings: number[][], mask: Mask | null = s.mask): Shape {
  return { ...s, rings, mask, bbox: bboxOf(s.kind, rings, mask) };
}

function bboxOf(kind: Kind, rings: number[][], mask: Mask | null): [number, number, number, number] {
  if (kind === "box") {
    const [x, y, w, h] = rings[0];
    return [x, y, x + w, y + h];
  }
  if (kind === "mask" && mask) return maskBbox(mask);
  let x0 = Infinity, y0 = Infinity, x1 = -Infinity, y1 = -Infinity;
  for (const r of rings)
    for (let i = 0; i < r.length; i += 2) {
      if (r[i] < x0) x0 = r[i];
      if (r[i] > x1) x1 = r[i];
      if (r[i + 1] < y0) y0 = r[i + 1];
      if (r[i + 1] > y1) y1 = r[i + 1];
    }
  return [x0, y0, x1, y1];
}

export function maskBbox(m: Mask): [number, number, number, number] {
  let x0 = m.w, y0 = m.h, x1 = -1, y1 = -1;
  for (let y = 0; y < m.h; y++) {
    const row = y * m.w;
    for (let x = 0; x < m.w; x++)
      if (m.data[row + x]) {
        if (x < x0) x0 = x;
        if (x > x1) x1 = x;
        if (y < y0) y0 = y;
        y1 = y;
      }
  }
  return x1 < 0 ? [0, 0, 0, 0] : [x0, y0, x1 + 1, y1 + 1];
}

export function maskArea(m: Mask): number {
  let n = 0;
  for (let i = 0; i < m.data.length; i++) n += m.data[i];
  return n;
}

// -- the REST geometry ---------------------------------------------------------------------------

export interface ApiLabel {
  kind: string;
  name: string;
  source?: string;
  is_main?: boolean;
  geometry: Record<string, unknown> | null;
  attributes: Record<string, unknown>;
}

/** The shape of a stored label; null for a classification or a geometry it cannot read. */
export function fromLabel(l: ApiLabel, w: number, h: number): Shape | null {
  const g = (l.geometry ?? {}) as Record<string, unknown>;
  const prelabel = l.source === "prelabel";
  const extra = { prelabel, attributes: l.attributes ?? {} };
  if (l.kind === "box" && Array.isArray(g.bbox)) return makeShape("box", l.name, [g.bbox as number[]], null, extra);
  if (l.kind === "polygon" && Array.isArray(g.polygons))
    return makeShape("polygon", l.name, g.polygons as number[][], null, extra);
  if (l.kind === "polyline" && Array.isArray(g.lines))
    return makeShape("polyline", l.name, g.lines as number[][], null, extra);
  if (l.kind === "mask" && g.rle) {
    const mask = decodeMask(g.rle as { size: [number, number]; counts: number[] | string }, w, h);
    return mask ? makeShape("mask", l.name, [], mask, extra) : null;
  }
  return null;
}

export function toLabel(s: Shape): ApiLabel {
  const geometry =
    s.kind === "box"
      ? { bbox: s.rings[0] }
      : s.kind === "polygon"
        ? { polygons: s.rings }
        : s.kind === "polyline"
          ? { lines: s.rings }
          : { rle: encodeMask(s.mask!.data, s.mask!.w, s.mask!.h) };
  return { kind: s.kind, name: s.name, geometry, attributes: s.attributes };
}

export function decodeMask(rle: { size: [number, number]; counts: number[] | string }, w: number, h: number): Mask | null {
  const [rh, rw] = rle.size;
  if (rh !== h || rw !== w) return null;
  const counts = typeof rle.counts === "string" ? decodeCounts(rle.counts) : rle.counts;
  const data = new Uint8Array(w * h);
  let pos = 0;
  let on = false;
  for (const n of counts) {
    if (on)
      for (let i = pos; i < pos + n; i++) data[(i % h) * w + ((i / h) | 0)] = 1; // column-major
    pos += n;
    on = !on;
  }
  return { w, h, data };
}

// -- undo / redo ---------------------------------------------------------------------------------

/** The states of one item: undo and redo move along them; a new edit drops the redo side. */
export class History {
  private past: State[] = [];
  private future: State[] = [];
  constructor(public current: State) {}

  push(next: State): void {
    this.past.push(this.current);
    if (this.past.length > 200) this.past.shift();
    this.future = [];
    this.current = next;
  }
  undo(): boolean {
    const prev = this.past.pop();
    if (!prev) return false;
    this.future.push(this.current);
    this.current = prev;
    return true;
  }
  redo(): boolean {
    const next = this.future.pop();
    if (!next) return false;
    this.past.push(this.current);
    this.current = next;
    return true;
  }
  get canUndo(): boolean {
    return this.past.length > 0;
  }
  get canRedo(): boolean {
    return this.future.length > 0;
  }
}
