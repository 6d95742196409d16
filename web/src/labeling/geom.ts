// Geometry of the labeling tool: a grid-bucket spatial index of the shapes (hit tests and the
// visible set look at a few buckets, not every shape), point-in-shape tests, and the brush,
// eraser and flood fill of bitmaps.
import type { Mask, Shape } from "./model";

const CELL = 64; // image pixels per bucket side

export class SpatialIndex {
  private cells = new Map<number, Shape[]>();
  /** The box of every shape: [xmin, ymin, xmax, ymax]. */
  readonly bounds: [number, number, number, number] = [Infinity, Infinity, -Infinity, -Infinity];
  constructor(private shapes: Shape[]) {
    for (const s of shapes) {
      this.bounds[0] = Math.min(this.bounds[0], s.bbox[0]);
      this.bounds[1] = Math.min(this.bounds[1], s.bbox[1]);
      this.bounds[2] = Math.max(this.bounds[2], s.bbox[2]);
      this.bounds[3] = Math.max(this.bounds[3], s.bbox[3]);
    }
    shapes.forEach((s) => this.each(s.bbox, (k) => {
      const c = this.cells.get(k);
      if (c) c.push(s);
      else this.cells.set(k, [s]);
    }));
  }
  private each(b: [number, number, number, number], fn: (key: number) => void): void {
    const x0 = Math.floor(b[0] / CELL), x1 = Math.floor(b[2] / CELL);
    const y0 = Math.floor(b[1] / CELL), y1 = Math.floor(b[3] / CELL);
    for (let y = y0; y <= y1; y++) for (let x = x0; x <= x1; x++) fn(y * 65536 + x);
  }
  /** The shapes whose box meets `b`, in z-order (their order in the list). */
  query(b: [number, number, number, number]): Shape[] {
    const seen = new Set<Shape>();
    this.each(b, (k) => this.cells.get(k)?.forEach((s) => {
      if (s.bbox[0] <= b[2] && s.bbox[2] >= b[0] && s.bbox[1] <= b[3] && s.bbox[3] >= b[1]) seen.add(s);
    }));
    if (seen.size === this.shapes.length) return this.shapes;
    return this.shapes.filter((s) => seen.has(s));
  }
  /** The topmost shape under the point (`tol` image pixels for lines and edges). */
  hit(x: number, y: number, tol: number): Shape | null {
    const c = this.query([x - tol, y - tol, x + tol, y + tol]);
    for (let i = c.length - 1; i >= 0; i--) if (contains(c[i], x, y, tol)) return c[i];
    return null;
  }
}

export function contains(s: Shape, x: number, y: number, tol: number): boolean {
  if (s.kind === "box") {
    const [bx, by, bw, bh] = s.rings[0];
    return x >= bx - tol && x <= bx + bw + tol && y >= by - tol && y <= by + bh + tol;
  }
  if (s.kind === "mask") {
    const m = s.mask!;
    const i = Math.floor(y) * m.w + Math.floor(x);
    return x >= 0 && y >= 0 && x < m.w && y < m.h && m.data[i] === 1;
  }
  if (s.kind === "polygon" && insideEvenOdd(s.rings, x, y)) return true;
  return s.rings.some((r) => nearestEdge(r, x, y, s.kind === "polygon").d <= tol);
}

function insideEvenOdd(rings: number[][], x: number, y: number): boolean {
  let inside = false;
  for (const r of rings) {
    const n = r.length / 2;
    for (let i = 0, j = n - 1; i < n; j = i++) {
      const xi = r[2 * i], yi = r[2 * i + 1], xj = r[2 * j], yj = r[2 * j + 1];
      if (yi > y !== yj > y && x < ((xj - xi) * (y - yi)) / (yj - yi) + xi) inside = !inside;
    }
  }
  return inside;
}

/** The edge of ring `r` nearest (x, y): its first vertex `i`, distance `d`, projection (px, py). */
export function nearestEdge(r: number[], x: number, y: number, closed: boolean) {
  const n = r.length / 2;
  let best = { i: -1, d: Infinity, px: 0, py: 0 };
  for (let i = 0; i < (closed ? n : n - 1); i++) {
    const j = (i + 1) % n;
    const ax = r[2 * i], ay = r[2 * i + 1], bx = r[2 * j], by = r[2 * j + 1];
    const dx = bx - ax, dy = by - ay;
    const len = dx * dx + dy * dy;
    const t = len ? Math.max(0, Math.min(1, ((x - ax) * dx + (y - ay) * dy) / len)) : 0;
    const px = ax + t * dx, py = ay + t * dy;
    const d = Math.hypot(x - px, y - py);
    if (d < best.d) best = { i, d, px, py };
  }
  return best;
}

/** The vertex of `rings` nearest (x, y) within `tol`: [ring, vertex] or null. */
export function nearestVertex(rings: number[][], x: number, y: number, tol: number): [number, number] | null {
  let best: [number, number] | null = null;
  let bd = tol;
  rings.forEach((r, k) => {
    for (let i = 0; i < r.length; i += 2) {
      const d = Math.hypot(r[i] - x, r[i + 1] - y);
      if (d <= bd) {
        bd = d;
        best = [k, i / 2];
      }
    }
  });
  return best;
}

// -- bitmaps -------------------------------------------------------------------------------------

/** Paints (value 1) or erases (0) a disc of radius `r` along the segment (x0, y0)-(x1, y1). */
export function stroke(m: Mask, x0: number, y0: number, x1: number, y1: number, r: number, value: 0 | 1): void {
  const xa = Math.max(0, Math.floor(Math.min(x0, x1) - r)), xb = Math.min(m.w - 1, Math.ceil(Math.max(x0, x1) + r));
  const ya = Math.max(0, Math.floor(Math.min(y0, y1) - r)), yb = Math.min(m.h - 1, Math.ceil(Math.max(y0, y1) + r));
  const dx = x1 - x0, dy = y1 - y0;
  const len = dx * dx + dy * dy;
  const r2 = r * r;
  for (let y = ya; y <= yb; y++)
    for (let x = xa; x <= xb; x++) {
      // the pixel's centre against the segment
      const cx = x + 0.5, cy = y + 0.5;
      const t = len ? Math.max(0, Math.min(1, ((cx - x0) * dx + (cy - y0) * dy) / len)) : 0;
      const ex = cx - (x0 + t * dx), ey = cy - (y0 + t * dy);
      if (ex * ex + ey * ey <= r2) m.data[y * m.w + x] = value;
    }
}

/** Fills the background region around (x, y) (4-connected); false, and nothing changed, when it
 * is not closed (it reaches the image's border) or the point is already foreground. */
export function floodFill(m: Mask, x: number, y: number): boolean {
  const sx = Math.floor(x), sy = Math.floor(y);
  if (sx < 0 || sy < 0 || sx >= m.w || sy >= m.h || m.data[sy * m.w + sx]) return false;
  const seen = new Uint8Array(m.w * m.h);
  const stack = [sy * m.w + sx];
  const region: number[] = [];
  seen[stack[0]] = 1;
  while (stack.length) {
    const i = stack.pop()!;
    region.push(i);
    const px = i % m.w, py = (i / m.w) | 0;
    if (px === 0 || py === 0 || px === m.w - 1 || py === m.h - 1) return false;
    for (const j of [i - 1, i + 1, i - m.w, i + m.w])
      if (!seen[j] && !m.data[j]) {
        seen[j] = 1;
        stack.push(j);
      }
  }
  for (const i of region) m.data[i] = 1;
  return true;
}
