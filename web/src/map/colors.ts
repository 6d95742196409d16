// Colours of the map's points: one RGBA per point from the server's values (categories or
// numbers), and the legend that explains them.
import type { MapColors } from "../api";
import { colorOf } from "../colors";

export type Legend =
  | { kind: "category"; entries: { name: string; color: string; count: number }[]; more: number }
  | { kind: "number"; min: number; max: number; stops: string[] };

const NONE: [number, number, number, number] = [150, 155, 170, 110];
const PLAIN: [number, number, number, number] = [79, 107, 237, 200];
// A viridis-like ramp: low is dark blue, high is yellow.
const RAMP: [number, number, number][] = [
  [68, 1, 84],
  [59, 82, 139],
  [33, 145, 140],
  [94, 201, 98],
  [253, 231, 37],
];
const LEGEND_ENTRIES = 12;

function hslToRgb(css: string): [number, number, number] {
  const [h, s, l] = (css.match(/[\d.]+/g) ?? ["0", "0", "50"]).map(Number);
  const a = (s / 100) * Math.min(l / 100, 1 - l / 100);
  const f = (n: number) => {
    const k = (n + h / 30) % 12;
    return Math.round(255 * (l / 100 - a * Math.max(-1, Math.min(k - 3, 9 - k, 1))));
  };
  return [f(0), f(8), f(4)];
}

function ramp(t: number): [number, number, number] {
  const u = Math.min(1, Math.max(0, t)) * (RAMP.length - 1);
  const i = Math.min(RAMP.length - 2, Math.floor(u));
  const f = u - i;
  return [0, 1, 2].map((c) => Math.round(RAMP[i][c] + f * (RAMP[i + 1][c] - RAMP[i][c]))) as [
    number,
    number,
    number,
  ];
}

/** Every point in one colour (no colouring chosen). */
export function plainColors(n: number): Uint8Array {
  const out = new Uint8Array(4 * n);
  for (let k = 0; k < n; k++) out.set(PLAIN, 4 * k);
  return out;
}

/** RGBA per point and the legend, from `colors` (aligned with the map's ids). */
export function pointColors(colors: MapColors, n: number): { rgba: Uint8Array; legend: Legend } {
  const rgba = new Uint8Array(4 * n);
  const values = colors.values;
  if (colors.kind === "number") {
    let min = Infinity, max = -Infinity;
    for (const v of values) {
      if (typeof v === "number" && Number.isFinite(v)) {
        min = Math.min(min, v);
        max = Math.max(max, v);
      }
    }
    const span = max > min ? max - min : 1;
    for (let k = 0; k < n; k++) {
      const v = values[k];
      if (typeof v !== "number" || !Number.isFinite(v)) rgba.set(NONE, 4 * k);
      else rgba.set([...ramp((v - min) / span), 220], 4 * k);
    }
    const stops = [0, 0.25, 0.5, 0.75, 1].map((t) => `rgb(${ramp(t).join(",")})`);
    return { rgba, legend: { kind: "number", min: Number.isFinite(min) ? min : 0, max: Number.isFinite(max) ? max : 0, stops } };
  }
  // Categories: values are indexes into `categories`, or the names themselves.
  const names = colors.categories ?? [];
  const nameOf = (v: number | string | null) =>
    v === null || v === undefined ? null : typeof v === "number" ? names[v] ?? String(v) : v;
  const rgbOf = new Map<string, [number, number, number]>();
  const counts = new Map<string, number>();
  for (let k = 0; k < n; k++) {
    const name = nameOf(values[k]);
    if (name === null) {
      rgba.set(NONE, 4 * k);
      continue;
    }
    let rgb = rgbOf.get(name);
    if (!rgb) rgbOf.set(name, (rgb = hslToRgb(colorOf(name))));
    rgba.set([...rgb, 220], 4 * k);
    counts.set(name, (counts.get(name) ?? 0) + 1);
  }
  const sorted = [...counts].sort((a, b) => b[1] - a[1]);
  const entries = sorted.slice(0, LEGEND_ENTRIES).map(([name, count]) => ({ name, count, color: colorOf(name) }));
  return { rgba, legend: { kind: "category", entries, more: Math.max(0, sorted.length - LEGEND_ENTRIES) } };
}
