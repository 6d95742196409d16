// COCO run-length masks (uncompressed counts or the compressed string form) to an image URL, and
// a bitmap to one (the labeling tool's masks).

export function decodeCounts(s: string): number[] {
  // COCO's compressed RLE: 6-bit groups with a continuation bit, deltas after the second count.
  const counts: number[] = [];
  let p = 0;
  while (p < s.length) {
    let x = 0;
    let k = 0;
    let more = 1;
    while (more) {
      const c = s.charCodeAt(p) - 48;
      x |= (c & 0x1f) << (5 * k);
      more = c & 0x20;
      p++;
      k++;
      if (!more && c & 0x10) x |= -1 << (5 * k);
    }
    if (counts.length > 2) x += counts[counts.length - 2];
    counts.push(x);
  }
  return counts;
}

export function rleToDataUrl(rle: unknown, color: string): string | null {
  const r = rle as { size?: [number, number]; counts?: number[] | string };
  if (!r?.size || r.counts === undefined) return null;
  const [h, w] = r.size;
  const counts = typeof r.counts === "string" ? decodeCounts(r.counts) : r.counts;
  const canvas = document.createElement("canvas");
  canvas.width = w;
  canvas.height = h;
  const ctx = canvas.getContext("2d");
  if (!ctx) return null;
  ctx.fillStyle = color;
  const img = ctx.createImageData(w, h);
  ctx.fillRect(0, 0, 1, 1);
  const [cr, cg, cb] = ctx.getImageData(0, 0, 1, 1).data;
  let pos = 0;
  let on = false;
  for (const n of counts) {
    if (on) {
      for (let i = pos; i < pos + n; i++) {
        // column-major (Fortran order) as COCO stores masks
        const y = i % h;
        const x = (i / h) | 0;
        const o = (y * w + x) * 4;
        img.data[o] = cr;
        img.data[o + 1] = cg;
        img.data[o + 2] = cb;
        img.data[o + 3] = 255;
      }
    }
    pos += n;
    on = !on;
  }
  ctx.putImageData(img, 0, 0);
  return canvas.toDataURL();
}

/** A row-major 0/1 bitmap of `w` x `h` as a COCO RLE (uncompressed counts, column-major runs
 * starting with background). */
export function encodeMask(data: Uint8Array, w: number, h: number): { size: [number, number]; counts: number[] } {
  const counts: number[] = [];
  let run = 0;
  let on = 0;
  for (let x = 0; x < w; x++)
    for (let y = 0; y < h; y++) {
      const v = data[y * w + x] ? 1 : 0;
      if (v !== on) {
        counts.push(run);
        run = 0;
        on = v;
      }
      run++;
    }
  counts.push(run);
  return { size: [h, w], counts };
}
