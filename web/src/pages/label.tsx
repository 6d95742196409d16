// The labeling tool: one item's image on a canvas with its labels, the tools to draw and edit
// boxes, polygons (parts and holes), polylines and bitmaps, the item's classification questions,
// undo / redo, and one save (one PUT: one change-set) per item; next / previous over the grid's
// selection or filter or a label job's items.
import { useEffect, useRef, useState } from "preact/hooks";
import { api, ApiError, errorText, type ItemDetail, type Label, type Ontology } from "../api";
import { A, can, session } from "../auth";
import { colorOf as hashColor } from "../colors";
import { Spinner, ErrorBox } from "../components/ui";
import { href, navigate } from "../router";
import { labelHref } from "../labeling/nav";
import { floodFill, nearestEdge, nearestVertex, SpatialIndex, stroke } from "../labeling/geom";
import {
  decodeMask,
  fromLabel,
  History,
  makeShape,
  maskArea,
  toLabel,
  withGeometry,
  type ApiLabel,
  type Classification,
  type Mask,
  type Shape,
  type State,
} from "../labeling/model";
import { onMissingTiles, render, type View } from "../labeling/render";

type Tool = "select" | "box" | "polygon" | "polyline" | "mask" | "smart";
type Mode =
  | "new" | "part" | "hole" | "edit" | "add" | "remove" | "brush" | "erase" | "fill"
  | "rect" | "fg" | "bg";

const TOOLS: [Tool, string, string][] = [
  ["select", "Select", "V"],
  ["box", "Box", "B"],
  ["polygon", "Polygon", "P"],
  ["polyline", "Polyline", "L"],
  ["mask", "Bitmap", "M"],
  ["smart", "Smart", "S"],
];
const MODES: Record<Tool, [Mode, string, string][]> = {
  select: [],
  box: [],
  polygon: [
    ["new", "New object", "N"],
    ["part", "New part", "G"],
    ["hole", "New hole", "H"],
    ["edit", "Edit", "E"],
  ],
  polyline: [
    ["new", "New line", "N"],
    ["add", "Add points", "K"],
    ["remove", "Remove points", "R"],
    ["edit", "Edit", "E"],
  ],
  mask: [
    ["brush", "Brush", "N"],
    ["erase", "Eraser", "R"],
    ["fill", "Fill", "G"],
  ],
  smart: [
    ["rect", "Rectangle", "N"],
    ["fg", "Foreground", "A"],
    ["bg", "Background", "R"],
  ],
};
const NEAR = 8; // screen pixels to pick a vertex, an edge or a ring's first point

/** Where next / previous go: the item ids in order, from the grid or a label job. */
async function itemOrder(ds: string, q: URLSearchParams): Promise<number[]> {
  const from = q.get("from") ?? "";
  if (from.startsWith("job:")) {
    const me = session.get();
    const items = await api.labelJobItems(ds, from.slice(4), me?.auth ? me.user : null);
    return items.map((i) => i.item_id);
  }
  if (q.get("ids")) return q.get("ids")!.split(",").map(Number).filter(Boolean);
  if (from !== "grid") return [];
  const ids: number[] = [];
  let cursor: string | null = null;
  do {
    const page = await api.items(ds, {
      where: q.get("where") ?? undefined,
      collection: q.get("collection") ?? undefined,
      sort: q.get("sort") ?? undefined,
      order: q.get("order") ?? undefined,
      limit: 500,
      cursor,
    });
    ids.push(...page.items.map((i) => i.id));
    cursor = page.next_cursor;
  } while (cursor && ids.length < 5000);
  return ids;
}


interface Loaded {
  detail: ItemDetail;
  ontology: Ontology | null;
  labels: Label[];
  order: number[];
  editable: boolean;
}

export function LabelPage({ ds, id, q }: { ds: string; id: number; q: URLSearchParams }) {
  const [loaded, setLoaded] = useState<Loaded | null>(null);
  const [error, setError] = useState<string | null>(null);
  useEffect(() => {
    (async () => {
      const [detail, ontology, labels, order] = await Promise.all([
        api.item(id),
        api.ontology(ds),
        api.itemLabels(ds, id),
        itemOrder(ds, q).catch(() => [] as number[]),
      ]);
      const from = q.get("from") ?? "";
      // In a job given to the person, the job's items are theirs to label.
      const editable = can(A.LABELS_EDIT, ds) || (from.startsWith("job:") && order.includes(id));
      setLoaded({ detail, ontology, labels, order, editable });
    })().catch((e) => setError(`item ${id}: ${errorText(e)}`));
  }, [ds, id]);
  if (error) return <ErrorBox error={error} />;
  if (!loaded) return <Spinner label="Loading the item" />;
  if (loaded.detail.item.modality !== "image" || !loaded.detail.item.media)
    return <ErrorBox error={`item ${id} is not an image (${loaded.detail.item.modality}): the labeling tool labels images`} />;
  return <Labeler key={id} ds={ds} id={id} q={q} {...loaded} />;
}

/** The item's state from its stored labels: shapes (ground truth and prelabels) and the main
 * classification; other ground-truth labels it cannot show are kept as they are. */
function initialState(labels: Label[], w: number, h: number): { state: State; kept: ApiLabel[] } {
  const shapes: Shape[] = [];
  const kept: ApiLabel[] = [];
  let classification: Classification = { name: "", answers: {} };
  for (const l of labels) {
    if (l.source !== "ground_truth" && l.source !== "prelabel") continue;
    if (l.kind === "classification") {
      if (l.source !== "ground_truth") continue;
      if (l.is_main && !classification.name)
        classification = { name: l.name, answers: ((l.attributes?.answers ?? {}) as Classification["answers"]) };
      else kept.push(l);
      continue;
    }
    const s = fromLabel(l, w, h);
    if (s) shapes.push(s);
    else if (l.source === "ground_truth") kept.push(l);
  }
  return { state: { shapes, classification }, kept };
}

/** The smart tool's input and last answer (GrabCut on the server). */
interface Smart {
  rect: number[] | null;
  fg: number[][];
  bg: number[][];
  mask: Mask | null;
  rle: unknown;
  busy: boolean;
}

interface Drag {
  kind: "pan" | "move" | "vertex" | "rect" | "paint" | "stroke";
  sx: number;
  sy: number;
  x: number;
  y: number;
  view?: View;
  shape?: Shape;
  ring?: number;
  vertex?: number;
  moved?: boolean;
  /** The state before the drag: its end makes one undo step of it. */
  before?: State;
}

function Labeler(p: Loaded & { ds: string; id: number; q: URLSearchParams }) {
  const { ds, id, q, detail, ontology, editable } = p;
  const canvasRef = useRef<HTMLCanvasElement>(null);
  const wrapRef = useRef<HTMLDivElement>(null);
  const [, setTick] = useState(0);
  const refresh = () => setTick((t) => t + 1);
  const [message, setMessage] = useState<string | null>(null);
  const [saving, setSaving] = useState(false);
  const w = detail.item.media?.width ?? 0;
  const h = detail.item.media?.height ?? 0;
  const classes = ontology?.classes ?? [];
  const questions = ontology?.questions ?? [];

  // The controller: mutable, outside Preact's state, so that a mouse move re-renders no DOM.
  const c = useRef<{
    hist: History;
    saved: State;
    kept: ApiLabel[];
    index: SpatialIndex;
    view: View;
    image: HTMLImageElement | null;
    tool: Tool;
    mode: Mode;
    selected: number | null;
    cls: string;
    drawing: number[] | null;
    drag: Drag | null;
    brush: number;
    cursor: [number, number] | null;
    live: Mask | null;
    space: boolean;
    frame: number;
    visible: number;
    hotkeys: Record<string, string>;
    /** The vertex last picked in edit mode (Delete removes it): [ring, vertex]. */
    vertex: [number, number] | null;
    smart: Smart;
    /** A Segment Anything model is available: the smart tool's clicks prompt it. */
    sam: boolean;
  }>(null as never);
  if (!c.current) {
    const { state, kept } = initialState(p.labels, w, h);
    const hist = new History(state);
    c.current = {
      hist,
      saved: state,
      kept,
      index: new SpatialIndex(state.shapes),
      view: { scale: 1, tx: 0, ty: 0 },
      image: null,
      tool: editable ? "polygon" : "select",
      mode: "new",
      selected: null,
      cls: classes[0]?.name ?? state.shapes[0]?.name ?? "object",
      drawing: null,
      drag: null,
      brush: 10,
      cursor: null,
      live: null,
      space: false,
      frame: 0,
      visible: 0,
      hotkeys: {},
      vertex: null,
      smart: { rect: null, fg: [], bg: [], mask: null, rle: null, busy: false },
      sam: false,
    };
  }
  const k = c.current;
  const colors = new Map(classes.map((cl) => [cl.name, cl.color]));
  const colorOf = (name: string) => colors.get(name) || hashColor(name);
  // Hotkeys: the ontology's; where no class has one, 1-9 are the first nine classes.
  k.hotkeys = {};
  if (classes.some((cl) => cl.hotkey)) classes.forEach((cl) => cl.hotkey && (k.hotkeys[cl.hotkey.toLowerCase()] = cl.name));
  else classes.slice(0, 9).forEach((cl, i) => (k.hotkeys[String(i + 1)] = cl.name));

  const shapes = () => k.hist.current.shapes;
  const dirty = () => k.hist.current !== k.saved;
  const selectedShape = () => shapes().find((s) => s.uid === k.selected) ?? null;

  const draw = () => {
    if (k.frame) return;
    k.frame = requestAnimationFrame(() => {
      k.frame = 0;
      paint();
    });
  };
  const paint = () => {
    const canvas = canvasRef.current;
    if (!canvas) return;
    const sel = selectedShape();
    const tip = k.drawing && k.cursor ? [...k.drawing, ...k.cursor] : k.drawing;
    const d = k.drag;
    k.visible = render(canvas, k.image, k.view, k.index, shapes(), colorOf, {
      selected: k.selected,
      handles: k.mode === "edit" || k.mode === "remove" || (k.tool === "select" && !!sel),
      drawing: tip,
      closed: false,
      rect: d?.kind === "rect" ? [Math.min(d.sx, d.x), Math.min(d.sy, d.y), Math.abs(d.x - d.sx), Math.abs(d.y - d.sy)] : null,
      brush: k.tool === "mask" && k.cursor && k.mode !== "fill" ? [...k.cursor, k.brush] : null,
      live: k.live ?? (k.tool === "smart" ? k.smart.mask : null),
      smart: k.tool === "smart" ? { rect: k.smart.rect, fg: k.smart.fg, bg: k.smart.bg } : null,
    });
  };

  const commit = (next: Shape[], classification = k.hist.current.classification) => {
    k.hist.push({ shapes: next, classification });
    k.index = new SpatialIndex(next);
    draw();
    refresh();
  };
  const replace = (old: Shape, s: Shape | null) =>
    commit(s ? shapes().map((x) => (x.uid === old.uid ? s : x)) : shapes().filter((x) => x.uid !== old.uid));
  const afterHistory = () => {
    k.index = new SpatialIndex(shapes());
    if (!selectedShape()) k.selected = null;
    k.drawing = null;
    draw();
    refresh();
  };

  // -- the view ------------------------------------------------------------------------------
  const fit = () => {
    const canvas = canvasRef.current;
    if (!canvas || !w || !h) return;
    const cw = canvas.clientWidth, ch = canvas.clientHeight;
    const scale = Math.min(cw / w, ch / h) * 0.98;
    k.view = { scale, tx: (cw - w * scale) / 2, ty: (ch - h * scale) / 2 };
    draw();
  };
  const toImage = (cx: number, cy: number): [number, number] => {
    const r = canvasRef.current!.getBoundingClientRect();
    return [(cx - r.left - k.view.tx) / k.view.scale, (cy - r.top - k.view.ty) / k.view.scale];
  };
  const toScreen = (x: number, y: number): [number, number] => {
    const r = canvasRef.current!.getBoundingClientRect();
    return [r.left + k.view.tx + x * k.view.scale, r.top + k.view.ty + y * k.view.scale];
  };

  useEffect(() => {
    api.config().then((c) => (k.sam = !!c.segment_anything?.available), () => undefined);
  }, []);

  useEffect(() => {
    const canvas = canvasRef.current!;
    const resize = () => {
      const dpr = window.devicePixelRatio || 1;
      canvas.width = Math.round(canvas.clientWidth * dpr);
      canvas.height = Math.round(canvas.clientHeight * dpr);
      draw();
    };
    const ro = new ResizeObserver(resize);
    ro.observe(canvas);
    resize();
    const img = new Image();
    img.onload = () => {
      k.image = img;
      fit();
      refresh();
    };
    img.onerror = () => setMessage(`item ${id}: its image did not load (${detail.item.media_url})`);
    img.src = detail.item.media_url;
    fit();
    onMissingTiles(draw);
    return () => {
      onMissingTiles(null);
      ro.disconnect();
      cancelAnimationFrame(k.frame);
    };
  }, []);

  // -- tools -----------------------------------------------------------------------------------
  const setTool = (t: Tool) => {
    k.tool = t;
    k.mode = t === "mask" ? "brush" : t === "smart" ? "rect" : "new";
    k.drawing = null;
    draw();
    refresh();
  };
  const setMode = (m: Mode) => {
    if ((m === "part" || m === "hole") && selectedShape()?.kind !== "polygon") {
      setMessage(`select a polygon first: ${m === "part" ? "G adds a part" : "H adds a hole"} to it`);
      return;
    }
    if ((m === "add" || m === "remove") && selectedShape()?.kind !== "polyline") {
      setMessage("select a polyline first");
      return;
    }
    k.mode = m;
    k.drawing = null;
    setMessage(null);
    draw();
    refresh();
  };

  /** Ends the ring or line being drawn (Enter, or a click on a ring's first point). */
  const finish = () => {
    const d = k.drawing;
    k.drawing = null;
    if (!d) return;
    if (k.tool === "polygon") {
      if (d.length < 6) return setMessage("a polygon ring needs at least 3 points");
      const target = selectedShape();
      if ((k.mode === "part" || k.mode === "hole") && target?.kind === "polygon") {
        replace(target, withGeometry(target, [...target.rings, d]));
        k.mode = "new";
      } else {
        const s = makeShape("polygon", k.cls, [d]);
        k.selected = s.uid;
        commit([...shapes(), s]);
      }
    } else if (k.tool === "polyline") {
      if (d.length < 4) return setMessage("a polyline needs at least 2 points");
      const s = makeShape("polyline", k.cls, [d]);
      k.selected = s.uid;
      commit([...shapes(), s]);
    }
    setMessage(null);
    draw();
  };

  const tol = () => NEAR / k.view.scale;

  const onDown = (e: PointerEvent) => {
    const canvas = canvasRef.current!;
    canvas.setPointerCapture(e.pointerId);
    const [x, y] = toImage(e.clientX, e.clientY);
    const base = { sx: x, sy: y, x, y };
    if (e.button === 1 || k.space || (e.button === 0 && !editable && k.tool === "select" && !k.index.hit(x, y, tol()))) {
      k.drag = { ...base, kind: "pan", sx: e.clientX, sy: e.clientY, view: { ...k.view } };
      e.preventDefault();
      return;
    }
    // Segment Anything: a click is a point (Alt or right click, or the R mode: background)
    if (k.sam && editable && k.tool === "smart" && (e.button === 2 || (e.button === 0 && (e.altKey || k.mode !== "rect")))) {
      (e.button === 2 || e.altKey || k.mode === "bg" ? k.smart.bg : k.smart.fg).push([x, y]);
      void runSmart();
      return draw();
    }
    if (e.button !== 0) return;
    if (k.tool === "select" || !editable) {
      const hit = k.index.hit(x, y, tol());
      k.selected = hit?.uid ?? null;
      if (hit && editable && !hit.prelabel) k.drag = { ...base, kind: "move", shape: hit, before: k.hist.current };
      else if (!hit) k.drag = { ...base, kind: "pan", sx: e.clientX, sy: e.clientY, view: { ...k.view } };
      draw();
      refresh();
      return;
    }
    if (k.tool === "box" || (k.tool === "smart" && k.mode === "rect")) {
      k.drag = { ...base, kind: "rect" };
      return;
    }
    if (k.tool === "smart") {
      if (!k.smart.rect) return setMessage("smart: draw a rectangle around the object first");
      const line = [x, y];
      (k.mode === "fg" ? k.smart.fg : k.smart.bg).push(line);
      k.drag = { ...base, kind: "stroke", ring: 0 };
      return draw();
    }
    if (k.tool === "mask") return maskDown(x, y, base);
    const sel = selectedShape();
    if (k.mode === "edit") {
      let target = sel && sel.kind === k.tool ? sel : null;
      if (!target) {
        const hit = k.index.hit(x, y, tol());
        target = hit && hit.kind === k.tool && !hit.prelabel ? hit : null;
        k.selected = target?.uid ?? null;
      }
      if (!target) return refresh();
      const v = nearestVertex(target.rings, x, y, tol());
      if (v) {
        k.vertex = v;
        k.drag = { ...base, kind: "vertex", shape: target, ring: v[0], vertex: v[1], before: k.hist.current };
      } else {
        // a click on an edge's projection inserts a vertex there (and drags it)
        const closed = target.kind === "polygon";
        let best = { ring: -1, i: -1, d: Infinity, px: 0, py: 0 };
        target.rings.forEach((r, ri) => {
          const ne = nearestEdge(r, x, y, closed);
          if (ne.d < best.d) best = { ring: ri, ...ne };
        });
        if (best.d <= tol()) {
          const rings = target.rings.map((r) => [...r]);
          rings[best.ring].splice(2 * (best.i + 1), 0, best.px, best.py);
          const s = withGeometry(target, rings);
          replace(target, s);
          k.vertex = [best.ring, best.i + 1];
          k.drag = { ...base, kind: "vertex", shape: s, ring: best.ring, vertex: best.i + 1, before: k.hist.current };
        }
      }
      draw();
      refresh();
      return;
    }
    if (k.tool === "polyline" && (k.mode === "add" || k.mode === "remove") && sel?.kind === "polyline") {
      const rings = sel.rings.map((r) => [...r]);
      if (k.mode === "add") rings[rings.length - 1].push(x, y);
      else {
        const v = nearestVertex(sel.rings, x, y, tol());
        if (!v) return;
        rings[v[0]].splice(2 * v[1], 2);
        if (rings[v[0]].length < 4) rings.splice(v[0], 1);
      }
      replace(sel, rings.length ? withGeometry(sel, rings) : null);
      return;
    }
    // a point of the ring or line being drawn; a click on a ring's first point closes it
    const d = k.drawing ?? [];
    if (k.tool === "polygon" && d.length >= 6 && Math.hypot(d[0] - x, d[1] - y) <= tol()) return finish();
    k.drawing = [...d, x, y];
    draw();
  };

  const maskDown = (x: number, y: number, base: Omit<Drag, "kind">) => {
    const sel = selectedShape();
    const target = sel?.kind === "mask" && !sel.prelabel ? sel : null;
    const data = target ? new Uint8Array(target.mask!.data) : new Uint8Array(w * h);
    const m: Mask = { w, h, data };
    if (k.mode === "fill") {
      if (!floodFill(m, x, y))
        return setMessage("fill: click inside a closed region of the mask (one that does not reach the image's border)");
      setMessage(null);
      return saveMask(target, m);
    }
    if (k.mode === "erase" && !target) return setMessage("select a mask to erase from");
    stroke(m, x, y, x, y, k.brush, k.mode === "erase" ? 0 : 1);
    k.live = m;
    k.drag = { ...base, kind: "paint", shape: target ?? undefined };
    draw();
  };
  const saveMask = (target: Shape | null, m: Mask) => {
    const empty = maskArea(m) === 0;
    if (target) replace(target, empty ? null : withGeometry(target, [], m));
    else if (!empty) {
      const s = makeShape("mask", k.cls, [], m);
      k.selected = s.uid;
      commit([...shapes(), s]);
    }
  };

  const onMove = (e: PointerEvent) => {
    const [x, y] = toImage(e.clientX, e.clientY);
    k.cursor = [x, y];
    const d = k.drag;
    if (d?.kind === "pan") {
      k.view = { ...d.view!, tx: d.view!.tx + e.clientX - d.sx, ty: d.view!.ty + e.clientY - d.sy };
    } else if (d?.kind === "paint") {
      stroke(k.live!, d.x, d.y, x, y, k.brush, k.mode === "erase" ? 0 : 1);
    } else if (d?.kind === "stroke") {
      const lines = k.mode === "fg" ? k.smart.fg : k.smart.bg;
      lines[lines.length - 1].push(x, y);
    } else if (d?.kind === "move" || d?.kind === "vertex") {
      d.moved = true;
      const s = d.shape!;
      const moved = d.kind === "move" ? translate(s, x - d.sx, y - d.sy) : moveVertex(s, d.ring!, d.vertex!, x, y);
      // the drag edits the current state in place; pointerup makes it one undo step
      const list = d.before!.shapes.map((t) => (t.uid === s.uid ? moved : t));
      k.hist.current = { ...d.before!, shapes: list };
      k.index = new SpatialIndex(list);
    }
    if (d) {
      d.x = x;
      d.y = y;
    }
    draw();
  };

  const onUp = () => {
    const d = k.drag;
    k.drag = null;
    if (!d) return;
    if (d.kind === "stroke") void runSmart();
    else if (d.kind === "rect" && k.tool === "smart") {
      const bw = Math.abs(d.x - d.sx), bh = Math.abs(d.y - d.sy);
      const click = bw * k.view.scale <= 2 || bh * k.view.scale <= 2;
      if (k.sam && click) k.smart.fg.push([d.x, d.y]); // SAM: a click, not a rectangle
      else k.smart = { rect: [Math.min(d.sx, d.x), Math.min(d.sy, d.y), bw, bh], fg: [], bg: [], mask: null, rle: null, busy: false };
      k.mode = "fg";
      void runSmart();
    } else if (d.kind === "rect") {
      const bw = Math.abs(d.x - d.sx), bh = Math.abs(d.y - d.sy);
      if (bw * k.view.scale > 2 && bh * k.view.scale > 2) {
        const s = makeShape("box", k.cls, [[Math.min(d.sx, d.x), Math.min(d.sy, d.y), bw, bh]]);
        k.selected = s.uid;
        commit([...shapes(), s]);
      }
    } else if (d.kind === "paint") {
      const m = k.live!;
      k.live = null;
      saveMask(d.shape ?? null, m);
    } else if ((d.kind === "move" || d.kind === "vertex") && d.moved) {
      // one undo step for the whole drag
      const after = k.hist.current;
      k.hist.current = d.before!;
      commit(after.shapes);
    }
    draw();
  };

  const onWheel = (e: WheelEvent) => {
    e.preventDefault();
    const r = canvasRef.current!.getBoundingClientRect();
    const mx = e.clientX - r.left, my = e.clientY - r.top;
    const f = Math.exp(-e.deltaY * 0.0015);
    const scale = Math.max(0.02, Math.min(64, k.view.scale * f));
    const g = scale / k.view.scale;
    k.view = { scale, tx: mx - (mx - k.view.tx) * g, ty: my - (my - k.view.ty) * g };
    draw();
  };

  // -- the smart tool: GrabCut (or Segment Anything's clicks) on the server ----------------------
  const samBody = (output: "mask" | "polygon") => ({
    method: "sam",
    rect: k.smart.rect ?? undefined,
    points: [...k.smart.fg, ...k.smart.bg].map((l) => l.slice(0, 2)),
    point_labels: [...k.smart.fg.map(() => 1), ...k.smart.bg.map(() => 0)],
    output,
  });
  const smartBody = (output: "mask" | "polygon") => k.sam ? samBody(output) : ({
    rect: k.smart.rect,
    // a click is a stroke of one point: GrabCut needs two
    foreground: k.smart.fg.map((l) => (l.length < 4 ? [...l, ...l] : l)),
    background: k.smart.bg.map((l) => (l.length < 4 ? [...l, ...l] : l)),
    mask: k.smart.rle ?? undefined,
    output,
  });
  const runSmart = async () => {
    const sm = k.smart;
    sm.busy = true;
    refresh();
    try {
      const res = await api.foreground(ds, id, smartBody("mask"));
      if (k.smart !== sm) return;
      sm.rle = res.mask;
      sm.mask = decodeMask(res.mask, w, h);
      const more = k.sam ? "click more points (Alt or right click: background)" : "add foreground (A) or background (R) strokes";
      setMessage(`smart: ${res.area.toLocaleString("en-US")} pixels; ${more}, then accept`);
    } catch (e) {
      setMessage(`smart: ${errorText(e)}`);
    } finally {
      sm.busy = false;
      draw();
      refresh();
    }
  };
  const acceptSmart = async (as: "mask" | "polygon") => {
    const sm = k.smart;
    if (!sm.mask) return;
    let s: Shape;
    if (as === "mask") s = makeShape("mask", k.cls, [], sm.mask);
    else {
      try {
        const res = await api.foreground(ds, id, smartBody("polygon"));
        const rings = (res.polygons ?? []).flat();
        if (!rings.length) return setMessage("smart: no polygon in the mask");
        s = makeShape("polygon", k.cls, rings);
      } catch (e) {
        return setMessage(`smart: ${errorText(e)}`);
      }
    }
    k.smart = { rect: null, fg: [], bg: [], mask: null, rle: null, busy: false };
    k.selected = s.uid;
    commit([...shapes(), s]);
    setTool(as === "mask" ? "mask" : "polygon");
    setMessage(null);
  };

  // -- commands --------------------------------------------------------------------------------
  const setClass = (name: string) => {
    k.cls = name;
    const s = selectedShape();
    if (s && editable && !s.prelabel && s.name !== name) replace(s, { ...s, name });
    refresh();
  };
  const remove = () => {
    const s = selectedShape();
    if (!s || !editable) return;
    k.selected = null;
    replace(s, null);
  };
  const zorder = (front: boolean) => {
    const s = selectedShape();
    if (!s) return;
    const rest = shapes().filter((x) => x.uid !== s.uid);
    commit(front ? [...rest, s] : [s, ...rest]);
  };
  const copyPrelabels = () => {
    const copies = shapes()
      .filter((s) => s.prelabel)
      .map((s) => ({ ...makeShape(s.kind, s.name, s.rings, s.mask ? { ...s.mask, data: new Uint8Array(s.mask.data) } : null) }));
    commit([...shapes(), ...copies]);
  };
  const setAnswer = (name: string, value: Classification["answers"][string] | null) => {
    const cl = k.hist.current.classification;
    const answers = { ...cl.answers };
    if (value === null || (Array.isArray(value) && !value.length) || value === "") delete answers[name];
    else answers[name] = value;
    commit(shapes(), { ...cl, answers });
  };
  const setItemClass = (name: string) => commit(shapes(), { ...k.hist.current.classification, name });

  const save = async () => {
    if (!editable || saving) return;
    const state = k.hist.current;
    const labels: unknown[] = state.shapes.filter((s) => !s.prelabel).map(toLabel);
    if (state.classification.name)
      labels.push({
        kind: "classification",
        name: state.classification.name,
        is_main: true,
        geometry: null,
        attributes: Object.keys(state.classification.answers).length ? { answers: state.classification.answers } : {},
      });
    labels.push(...k.kept.map((l) => ({ kind: l.kind, name: l.name, is_main: l.is_main, geometry: l.geometry, attributes: l.attributes })));
    setSaving(true);
    try {
      const res = await api.setLabels(ds, id, labels);
      k.saved = state;
      setMessage(res.change_set ? `saved: change-set ${res.change_set}` : "saved: nothing changed");
    } catch (e) {
      setMessage(`not saved: ${e instanceof ApiError ? e.message : errorText(e)}`);
    } finally {
      setSaving(false);
    }
  };

  const at = p.order.indexOf(id);
  const go = (to: number | undefined) => {
    if (to === undefined) return;
    if (dirty() && !confirm(`Item ${id} has unsaved changes: leave without saving?`)) return;
    k.saved = k.hist.current; // no second warning from the page leaving
    navigate(labelHref(ds, to, q));
  };

  // -- the keyboard ----------------------------------------------------------------------------
  useEffect(() => {
    const down = (e: KeyboardEvent) => {
      const t = e.target as HTMLElement;
      if (t && (t.tagName === "INPUT" || t.tagName === "TEXTAREA" || t.tagName === "SELECT")) return;
      const key = e.key.toLowerCase();
      const ctrl = e.ctrlKey || e.metaKey;
      if (ctrl && key === "z") {
        e.preventDefault();
        if (e.shiftKey ? k.hist.redo() : k.hist.undo()) afterHistory();
        return;
      }
      if (ctrl && key === "y") {
        e.preventDefault();
        if (k.hist.redo()) afterHistory();
        return;
      }
      if (ctrl && key === "s") {
        e.preventDefault();
        void save();
        return;
      }
      if (ctrl || e.altKey) return;
      if (key === " ") {
        k.space = true;
        e.preventDefault();
        return;
      }
      if (key === "f") return fit();
      if (key === ".") return go(p.order[at + 1]);
      if (key === ",") return go(p.order[at - 1]);
      if (/^[1-9]$/.test(key) && k.hotkeys[key]) return setClass(k.hotkeys[key]);
      if (!editable) return;
      if (key === "escape") {
        k.smart = { rect: null, fg: [], bg: [], mask: null, rle: null, busy: false };
        k.drawing = null;
        k.selected = null;
        draw();
        return refresh();
      }
      if (key === "enter" && k.drawing) {
        e.preventDefault();
        return finish();
      }
      if (key === "delete" || key === "backspace") {
        e.preventDefault();
        const s = selectedShape();
        if (k.mode === "edit" && k.vertex && s && s.kind !== "box" && s.kind !== "mask") {
          const [ri, vi] = k.vertex;
          k.vertex = null;
          const rings = s.rings.map((r) => [...r]);
          if (!rings[ri]) return;
          rings[ri].splice(2 * vi, 2);
          if (rings[ri].length < (s.kind === "polygon" ? 6 : 4)) rings.splice(ri, 1);
          return replace(s, rings.length ? withGeometry(s, rings) : null);
        }
        if (k.drawing) {
          k.drawing = k.drawing.slice(0, -2);
          return draw();
        }
        return remove();
      }
      if (key === "pageup") return zorder(true);
      if (key === "pagedown") return zorder(false);
      if (key === "[") {
        k.brush = Math.max(1, k.brush - 2);
        draw();
        return refresh();
      }
      if (key === "]") {
        k.brush = Math.min(200, k.brush + 2);
        draw();
        return refresh();
      }
      const tool = TOOLS.find((x) => x[2].toLowerCase() === key);
      if (tool) return setTool(tool[0]);
      const mode = MODES[k.tool].find((x) => x[2].toLowerCase() === key);
      if (mode) {
        if (k.tool === "mask" && key === "n") {
          k.selected = null; // the next stroke starts a new mask
          refresh();
        }
        if (k.tool === "mask" && key === "r" && k.mode === "erase") return setMode("brush");
        return setMode(mode[0]);
      }
      if (k.hotkeys[key]) return setClass(k.hotkeys[key]);
    };
    const up = (e: KeyboardEvent) => {
      if (e.key === " ") k.space = false;
    };
    const leave = (e: BeforeUnloadEvent) => {
      if (dirty()) e.preventDefault();
    };
    // A link elsewhere in the app while there are unsaved changes: ask first.
    const click = (e: MouseEvent) => {
      const a = (e.target as HTMLElement).closest?.("a[href^='#']");
      if (a && dirty() && !confirm(`Item ${id} has unsaved changes: leave without saving?`)) {
        e.preventDefault();
        e.stopPropagation();
      }
    };
    window.addEventListener("keydown", down);
    window.addEventListener("keyup", up);
    window.addEventListener("beforeunload", leave);
    document.addEventListener("click", click, true);
    const canvas = canvasRef.current!;
    canvas.addEventListener("wheel", onWheel, { passive: false });
    return () => {
      window.removeEventListener("keydown", down);
      window.removeEventListener("keyup", up);
      window.removeEventListener("beforeunload", leave);
      document.removeEventListener("click", click, true);
      canvas.removeEventListener("wheel", onWheel);
    };
  });

  // The debug hook tests and the benchmark drive the page through.
  useEffect(() => {
    (window as unknown as { __labeling: unknown }).__labeling = {
      toScreen,
      toImage,
      view: () => ({ ...k.view }),
      setView: (v: View) => {
        k.view = { ...v };
        paint();
        return k.visible;
      },
      state: () => ({
        tool: k.tool,
        mode: k.mode,
        cls: k.cls,
        selected: k.selected,
        dirty: dirty(),
        shapes: shapes().map((s) => ({ ...toLabel(s), prelabel: s.prelabel, area: s.mask ? maskArea(s.mask) : null })),
        classification: k.hist.current.classification,
      }),
      inject: (labels: ApiLabel[]) => {
        commit(labels.map((l) => fromLabel(l, w, h)).filter((s): s is Shape => !!s));
        return shapes().length;
      },
      ready: () => !!k.image,
      image: () => ({ w, h }),
    };
  });

  const sel = selectedShape();
  const cl = k.hist.current.classification;
  const names = [...new Set([...classes.map((x) => x.name), ...shapes().map((s) => s.name), k.cls])];
  return (
    <div class="labeler" data-testid="labeler">
      <div class="labeler-bar">
        <a class="button ghost small" href={href("items", id)}>
          ← Item {id}
        </a>
        <span class="muted" data-testid="label-position">
          {at >= 0 ? `${at + 1} / ${p.order.length}` : detail.item.name}
        </span>
        <button type="button" class="small" disabled={at <= 0} onClick={() => go(p.order[at - 1])} data-testid="label-prev" title="Previous (,)">
          ‹ Prev
        </button>
        <button type="button" class="small" disabled={at < 0 || at >= p.order.length - 1} onClick={() => go(p.order[at + 1])} data-testid="label-next" title="Next (.)">
          Next ›
        </button>
        <span class="spacer" />
        {message ? (
          <span class="labeler-message" role="status" data-testid="label-message">
            {message}
          </span>
        ) : null}
        {editable ? (
          <>
            <button type="button" class="small" disabled={!k.hist.canUndo} onClick={() => k.hist.undo() && afterHistory()} title="Ctrl+Z">
              ↶ Undo
            </button>
            <button type="button" class="small" disabled={!k.hist.canRedo} onClick={() => k.hist.redo() && afterHistory()} title="Ctrl+Shift+Z">
              ↷ Redo
            </button>
            <button type="button" class="small primary" disabled={saving} onClick={() => void save()} data-testid="label-save" title="Ctrl+S">
              {saving ? "Saving…" : dirty() ? "Save ●" : "Save"}
            </button>
          </>
        ) : (
          <span class="chip chip-muted" data-testid="label-readonly">
            read only: needs the editor role, or the item in a label job given to you
          </span>
        )}
        <button type="button" class="small ghost" onClick={fit} title="Fit to screen (F)">
          Fit
        </button>
      </div>
      <div class={`labeler-body${editable ? "" : " readonly"}`}>
        {editable ? (
          <div class="labeler-tools" role="toolbar" aria-label="Tools">
            {TOOLS.map(([t, label, key]) => (
              <button key={t} type="button" class={`small ${k.tool === t ? "primary" : "ghost"}`} onClick={() => setTool(t)} data-testid={`tool-${t}`} title={`${label} (${key})`}>
                {label} <kbd>{key}</kbd>
              </button>
            ))}
            <hr />
            {MODES[k.tool].map(([m, label, key]) => (
              <button key={m} type="button" class={`small ${k.mode === m ? "primary" : "ghost"}`} onClick={() => setMode(m)} data-testid={`mode-${m}`}>
                {label} <kbd>{key}</kbd>
              </button>
            ))}
            {k.tool === "smart" ? <SmartPanel busy={k.smart.busy} ready={!!k.smart.mask} accept={(as) => void acceptSmart(as)} /> : null}
            {k.tool === "mask" ? (
              <label class="small">
                Brush {k.brush}px
                <input type="range" min={1} max={100} value={k.brush} data-testid="brush-size" onInput={(e) => { k.brush = Number((e.target as HTMLInputElement).value); refresh(); }} />
              </label>
            ) : null}
          </div>
        ) : null}
        <div class="labeler-canvas" ref={wrapRef}>
          <canvas
            ref={canvasRef}
            data-testid="label-canvas"
            onPointerDown={(e) => onDown(e as unknown as PointerEvent)}
            onPointerMove={(e) => onMove(e as unknown as PointerEvent)}
            onPointerUp={onUp}
            onContextMenu={(e) => e.preventDefault()}
            onMouseDown={(e) => e.button === 1 && e.preventDefault()}
          />
        </div>
        <aside class="labeler-side">
          <section>
            <h3>Class</h3>
            <div class="labeler-classes">
              {names.map((n) => {
                const hk = Object.entries(k.hotkeys).find(([, v]) => v === n)?.[0];
                return (
                  <button key={n} type="button" class={`small ${k.cls === n ? "primary" : "ghost"}`} onClick={() => setClass(n)} data-testid={`class-${n}`}>
                    <span class="swatch" style={{ background: colorOf(n) }} /> {n} {hk ? <kbd>{hk}</kbd> : null}
                  </button>
                );
              })}
            </div>
            {editable ? (
              <form
                onSubmit={(e) => {
                  e.preventDefault();
                  const input = (e.target as HTMLFormElement).elements.namedItem("cls") as HTMLInputElement;
                  if (input.value.trim()) setClass(input.value.trim());
                  input.value = "";
                }}
              >
                <input name="cls" placeholder="Another class…" aria-label="Another class" />
              </form>
            ) : null}
          </section>
          <section data-testid="label-selection">
            <h3>Selected</h3>
            {sel ? (
              <p>
                {sel.kind} · {sel.name}
                {sel.prelabel ? " · prelabel" : ""}
                {sel.kind === "polygon" ? ` · ${sel.rings.length} ring${sel.rings.length > 1 ? "s" : ""}` : ""}
                {editable && !sel.prelabel ? (
                  <span class="row">
                    <button type="button" class="small ghost" onClick={() => zorder(true)} title="PageUp">To front</button>
                    <button type="button" class="small ghost" onClick={() => zorder(false)} title="PageDown">To back</button>
                    <button type="button" class="small danger" onClick={remove} title="Delete">Delete</button>
                  </span>
                ) : null}
              </p>
            ) : (
              <p class="muted">nothing (click a shape with Select)</p>
            )}
            <p class="muted">
              {shapes().filter((s) => !s.prelabel).length} labels
              {shapes().some((s) => s.prelabel) ? ` · ${shapes().filter((s) => s.prelabel).length} prelabels (dashed)` : ""}
            </p>
            {editable && shapes().some((s) => s.prelabel) ? (
              <button type="button" class="small" onClick={copyPrelabels}>
                Copy prelabels as labels
              </button>
            ) : null}
          </section>
          <section data-testid="label-questions">
            <h3>Classification</h3>
            <select value={cl.name} disabled={!editable} aria-label="Item class" onChange={(e) => setItemClass((e.target as HTMLSelectElement).value)}>
              <option value="">(none)</option>
              {names.map((n) => (
                <option key={n} value={n}>
                  {n}
                </option>
              ))}
            </select>
            {questions.map((qq) => (
              <fieldset key={qq.id} disabled={!editable}>
                <legend>
                  {qq.name}
                  {qq.required ? " *" : ""}
                </legend>
                {qq.kind === "text" ? (
                  <input value={(cl.answers[qq.name] as string) ?? ""} onChange={(e) => setAnswer(qq.name, (e.target as HTMLInputElement).value)} />
                ) : (
                  qq.options.map((o) => {
                    const v = cl.answers[qq.name];
                    const on = Array.isArray(v) ? v.includes(o) : v === o;
                    return (
                      <label key={o} class="check">
                        <input
                          type={qq.kind === "radio" ? "radio" : "checkbox"}
                          name={`q-${qq.id}`}
                          checked={on}
                          onChange={() => {
                            if (qq.kind === "radio") setAnswer(qq.name, o);
                            else {
                              const list = Array.isArray(v) ? v : [];
                              setAnswer(qq.name, on ? list.filter((x) => x !== o) : [...list, o]);
                            }
                          }}
                        />
                        {o}
                      </label>
                    );
                  })
                )}
              </fieldset>
            ))}
          </section>
          <HotkeySettings ds={ds} classes={classes} onSaved={(name, key) => {
            const c0 = classes.find((x) => x.name === name);
            if (c0) c0.hotkey = key || null;
            refresh();
          }} />
          <section class="muted small">
            Wheel: zoom · Space-drag or middle-drag: pan · F: fit · Enter: finish · Esc: cancel · Delete: remove · Ctrl+Z / Ctrl+Shift+Z · Ctrl+S: save · , / .: previous / next
          </section>
        </aside>
      </div>
    </div>
  );
}

/** The smart tool's answer: accept it as a bitmap or a polygon; which model runs. */
function SmartPanel({ busy, ready, accept }: { busy: boolean; ready: boolean; accept: (as: "mask" | "polygon") => void }) {
  const [sam, setSam] = useState<{ available: boolean; how_to: string } | null>(null);
  useEffect(() => {
    api.config().then((c) => setSam(c.segment_anything ?? { available: false, how_to: "" }), () => undefined);
  }, []);
  return (
    <div class="labeler-smart" data-testid="smart-panel">
      <button type="button" class="small" disabled={!ready || busy} onClick={() => accept("mask")} data-testid="smart-accept-mask">
        Accept as bitmap
      </button>
      <button type="button" class="small" disabled={!ready || busy} onClick={() => accept("polygon")} data-testid="smart-accept-polygon">
        Accept as polygon
      </button>
      {busy ? <span class="muted small">computing…</span> : null}
      {sam?.available ? (
        <p class="muted small" data-testid="sam-on" title={sam.how_to}>
          Segment Anything: click the object (Alt or right click: background)
        </p>
      ) : null}
      {sam && !sam.available ? (
        <p class="muted small" data-testid="sam-missing" title={sam.how_to}>
          Segment Anything: no model (see how_to) — GrabCut only
        </p>
      ) : null}
    </div>
  );
}

/** The labeling settings: a class's hotkey (PATCH ontology class). */
function HotkeySettings({ ds, classes, onSaved }: { ds: string; classes: Ontology["classes"]; onSaved: (name: string, key: string) => void }) {
  const [error, setError] = useState<string | null>(null);
  const allowed = can(A.ONTOLOGY_EDIT, ds);
  if (!classes.length) return null;
  return (
    <details class="labeler-settings" data-testid="label-settings">
      <summary>Labeling settings: hotkeys</summary>
      {classes.map((cl) => (
        <form
          key={cl.id}
          class="row"
          onSubmit={async (e) => {
            e.preventDefault();
            const input = (e.target as HTMLFormElement).elements.namedItem("key") as HTMLInputElement;
            try {
              await api.patchClass(ds, cl.name, { hotkey: input.value.trim() });
              setError(null);
              onSaved(cl.name, input.value.trim());
            } catch (err) {
              setError(`${cl.name}: ${errorText(err)}`);
            }
          }}
        >
          <span class="swatch" style={{ background: cl.color }} />
          <span class="grow">{cl.name}</span>
          <input name="key" maxLength={1} size={2} defaultValue={cl.hotkey ?? ""} aria-label={`Hotkey of ${cl.name}`} disabled={!allowed} data-testid={`hotkey-${cl.name}`} />
          <button type="submit" class="small ghost" disabled={!allowed} data-testid={`hotkey-save-${cl.name}`}>
            Save
          </button>
        </form>
      ))}
      {error ? <p class="error">{error}</p> : null}
    </details>
  );
}

function translate(s: Shape, dx: number, dy: number): Shape {
  if (s.kind === "mask") {
    const m = s.mask!;
    const ix = Math.round(dx), iy = Math.round(dy);
    const data = new Uint8Array(m.w * m.h);
    for (let y = 0; y < m.h; y++) {
      const ty = y + iy;
      if (ty < 0 || ty >= m.h) continue;
      for (let x = 0; x < m.w; x++) {
        const tx = x + ix;
        if (tx >= 0 && tx < m.w && m.data[y * m.w + x]) data[ty * m.w + tx] = 1;
      }
    }
    return withGeometry(s, [], { ...m, data });
  }
  const rings = s.rings.map((r) =>
    s.kind === "box" ? [r[0] + dx, r[1] + dy, r[2], r[3]] : r.map((v, i) => v + (i % 2 ? dy : dx)),
  );
  return withGeometry(s, rings);
}

function moveVertex(s: Shape, ring: number, vertex: number, x: number, y: number): Shape {
  const rings = s.rings.map((r, k) => {
    if (k !== ring) return r;
    const copy = [...r];
    copy[2 * vertex] = x;
    copy[2 * vertex + 1] = y;
    return copy;
  });
  return withGeometry(s, rings);
}
