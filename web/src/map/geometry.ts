// Geometry of the map in data coordinates: the lasso's point-in-polygon test and a uniform grid
// for hover hit-testing (both O(n) to build, no per-point objects).

/** Whether (x, y) lies inside the polygon `poly` ([x0, y0, x1, y1, ...]), even-odd rule. */
export function insidePolygon(poly: ArrayLike<number>, x: number, y: number): boolean {
  let inside = false;
  const n = poly.length / 2;
  for (let i = 0, j = n - 1; i < n; j = i++) {
    const xi = poly[2 * i], yi = poly[2 * i + 1];
    const xj = poly[2 * j], yj = poly[2 * j + 1];
    if (yi > y !== yj > y && x < ((xj - xi) * (y - yi)) / (yj - yi) + xi) inside = !inside;
  }
  return inside;
}

/** The indexes of the points whose stored coordinates lie inside `poly`. */
export function lassoSelect(xs: Float64Array, ys: Float64Array, poly: number[]): Uint32Array {
  if (poly.length < 6) return new Uint32Array(0);
  let x0 = Infinity, y0 = Infinity, x1 = -Infinity, y1 = -Infinity;
  for (let i = 0; i < poly.length; i += 2) {
    x0 = Math.min(x0, poly[i]);
    x1 = Math.max(x1, poly[i]);
    y0 = Math.min(y0, poly[i + 1]);
    y1 = Math.max(y1, poly[i + 1]);
  }
  const out: number[] = [];
  for (let k = 0; k < xs.length; k++) {
    const x = xs[k], y = ys[k];
    if (x < x0 || x > x1 || y < y0 || y > y1) continue;
    if (insidePolygon(poly, x, y)) out.push(k);
  }
  return Uint32Array.from(out);
}

/** Points bucketed into a uniform grid over their bounds (counting sort: `start` per cell into
 * `order`), for "which point is nearest the cursor" without scanning every point. */
export class PointGrid {
  readonly cells: number;
  private readonly start: Uint32Array;
  private readonly order: Uint32Array;
  private readonly x0: number;
  private readonly y0: number;
  private readonly cw: number;
  private readonly ch: number;

  constructor(
    private readonly xs: Float64Array,
    private readonly ys: Float64Array,
    bounds: [number, number, number, number],
  ) {
    const n = xs.length;
    this.cells = Math.max(1, Math.min(512, Math.ceil(Math.sqrt(n / 4))));
    [this.x0, this.y0] = bounds;
    this.cw = (bounds[2] - bounds[0]) / this.cells || 1;
    this.ch = (bounds[3] - bounds[1]) / this.cells || 1;
    const cellOf = new Uint32Array(n);
    const count = new Uint32Array(this.cells * this.cells + 1);
    for (let k = 0; k < n; k++) {
      const c = this.cell(xs[k], ys[k]);
      cellOf[k] = c;
      count[c + 1]++;
    }
    for (let c = 1; c < count.length; c++) count[c] += count[c - 1];
    this.start = count.slice();
    this.order = new Uint32Array(n);
    for (let k = 0; k < n; k++) this.order[count[cellOf[k]]++] = k;
  }

  private clampCol(v: number): number {
    return Math.min(this.cells - 1, Math.max(0, Math.floor(v)));
  }

  private cell(x: number, y: number): number {
    return this.clampCol((y - this.y0) / this.ch) * this.cells + this.clampCol((x - this.x0) / this.cw);
  }

  /** The index of the point nearest (x, y) within `radius` (data units), or -1. */
  nearest(x: number, y: number, radius: number): number {
    const c0 = this.clampCol((x - radius - this.x0) / this.cw);
    const c1 = this.clampCol((x + radius - this.x0) / this.cw);
    const r0 = this.clampCol((y - radius - this.y0) / this.ch);
    const r1 = this.clampCol((y + radius - this.y0) / this.ch);
    let best = -1;
    let bestD = radius * radius;
    for (let r = r0; r <= r1; r++) {
      for (let c = c0; c <= c1; c++) {
        const cell = r * this.cells + c;
        for (let i = this.start[cell]; i < this.start[cell + 1]; i++) {
          const k = this.order[i];
          const dx = this.xs[k] - x, dy = this.ys[k] - y;
          const d = dx * dx + dy * dy;
          if (d <= bestD) {
            bestD = d;
            best = k;
          }
        }
      }
    }
    return best;
  }
}
