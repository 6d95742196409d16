// Item detail (F-51): the image with its boxes, polygons and masks drawn, labels, every tag's
// score, and similar items.
import { useEffect, useMemo, useRef, useState } from "preact/hooks";
import { api, errorText, type Hit, type ItemDetail, type Label, type Space, type TagScore } from "../api";
import { Thumb } from "../components/thumbs";
import { Chip, ErrorBox, PageHead, Spinner, fmtScore, Empty } from "../components/ui";
import { href } from "../router";
import { colorOf } from "../colors";
import { rleToDataUrl } from "../rle";
import { useConfig } from "../config";

export function ItemPage({ id }: { id: number }) {
  return (
    <section class="page item-page" aria-label="Item detail" data-testid="item-page">
      <ItemView id={id} />
    </section>
  );
}

/**
 * An item opened over the grid: previous / next through the grid's loaded items (arrow keys),
 * Esc or × to close, back where the grid was scrolled.
 */
export function ItemOverlay({
  id,
  ids,
  onMove,
  onClose,
}: {
  id: number;
  ids: number[];
  onMove: (id: number) => void;
  onClose: () => void;
}) {
  const ref = useRef<HTMLDialogElement>(null);
  const at = ids.indexOf(id);
  const prev = at > 0 ? ids[at - 1] : null;
  const next = at >= 0 && at + 1 < ids.length ? ids[at + 1] : null;
  useEffect(() => {
    const d = ref.current;
    if (d && !d.open) d.showModal();
  }, []);
  // Arrow keys wherever the focus is, except in a field that uses them.
  useEffect(() => {
    const onKey = (e: KeyboardEvent) => {
      const t = e.target as HTMLElement | null;
      if (t?.closest?.("input, select, textarea")) return;
      if (e.key === "ArrowLeft" && prev !== null) onMove(prev);
      else if (e.key === "ArrowRight" && next !== null) onMove(next);
      else return;
      e.preventDefault();
    };
    window.addEventListener("keydown", onKey);
    return () => window.removeEventListener("keydown", onKey);
  }, [prev, next, onMove]);
  return (
    <dialog
      ref={ref}
      class="item-overlay"
      aria-label={`Item ${id}`}
      data-testid="item-overlay"
      onClose={onClose}
    >
      <header class="overlay-bar">
        <button type="button" disabled={prev === null} onClick={() => prev !== null && onMove(prev)} aria-keyshortcuts="ArrowLeft" data-testid="item-prev">
          ‹ Previous
        </button>
        <span class="muted small" data-testid="item-position">
          {at >= 0 ? `${at + 1} of ${ids.length} loaded` : ""}
        </span>
        <button type="button" disabled={next === null} onClick={() => next !== null && onMove(next)} aria-keyshortcuts="ArrowRight" data-testid="item-next">
          Next ›
        </button>
        <span class="muted small">← → to move, Esc to close</span>
        <div class="spacer" />
        <a class="button ghost" href={href("items", id)}>
          Full page
        </a>
        <button type="button" class="icon-btn" aria-label="Close" aria-keyshortcuts="Escape" onClick={onClose} data-testid="item-close">
          ×
        </button>
      </header>
      <div class="overlay-body">
        <ItemView key={id} id={id} />
      </div>
    </dialog>
  );
}

const ZOOMS = [1, 1.5, 2, 3, 4];

function ItemView({ id }: { id: number }) {
  const [detail, setDetail] = useState<ItemDetail | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [hidden, setHidden] = useState<Set<string>>(new Set());
  const [hover, setHover] = useState<number | null>(null);
  const [zoom, setZoom] = useState(1);

  useEffect(() => {
    api.item(id).then(setDetail, (e) => setError(errorText(e)));
  }, [id]);

  const w = detail?.item.media?.width ?? 0;
  const h = detail?.item.media?.height ?? 0;
  const fontSize = Math.max(12, w / 50);
  const placed = useMemo(
    () => (detail ? placeLabels(detail.labels, hidden, w, h, fontSize) : new Map()),
    [detail, hidden, w, h, fontSize],
  );

  if (error) return <ErrorBox error={error} />;
  if (!detail) return <Spinner />;
  const { item, labels, tag_scores, dataset } = detail;
  const names = [...new Set(labels.map((l) => l.name))];
  const nObjects = countObjects(labels);
  const step = (d: number) => setZoom((z) => ZOOMS[Math.min(ZOOMS.length - 1, Math.max(0, ZOOMS.indexOf(z) + d))]);

  return (
    <>
      <PageHead
        title={item.name}
        sub={
          <>
            <a href={href("d", dataset, "grid")}>{dataset}</a> · item {item.id}
            {w ? ` · ${w}×${h}` : ""}
            {item.media ? ` · ${item.media.format} · ${(item.media.size / 1024).toFixed(0)} KB` : ""}
            {item.split ? ` · ${item.split}` : ""}
          </>
        }
      >
        <a class="button" href={href("d", dataset, "search", { mode: "item", item: item.id })}>
          Find similar
        </a>
        {item.modality === "image" ? (
          <a class="button" href={href("d", dataset, "label", item.id)} data-testid="open-labeler">
            ✎ Label
          </a>
        ) : null}
        <a class="button ghost" href={item.media_url} target="_blank" rel="noreferrer">
          Open original
        </a>
      </PageHead>

      <div class="item-layout">
        <div class="viewer">
          <div class="zoom-bar" role="group" aria-label="Zoom">
            <button type="button" class="ghost" aria-label="Zoom out" disabled={zoom === ZOOMS[0]} onClick={() => step(-1)} data-testid="zoom-out">
              −
            </button>
            <span class="mono small" data-testid="zoom-level">
              {Math.round(zoom * 100)}%
            </span>
            <button type="button" class="ghost" aria-label="Zoom in" disabled={zoom === ZOOMS[ZOOMS.length - 1]} onClick={() => step(1)} data-testid="zoom-in">
              +
            </button>
            {zoom !== 1 ? (
              <button type="button" class="ghost" onClick={() => setZoom(1)}>
                Fit
              </button>
            ) : null}
          </div>
          <div class={`stage-scroll${zoom > 1 ? " zoomed" : ""}`} data-testid="stage-scroll">
            <div
              class="stage"
              data-testid="stage"
              style={w && h ? { aspectRatio: `${w} / ${h}`, width: `${zoom * 100}%`, maxHeight: zoom > 1 ? "none" : undefined } : undefined}
            >
              <img src={item.media_url} alt={item.name} data-testid="item-image" />
              {w && h ? (
                <svg
                  class="overlay"
                  viewBox={`0 0 ${w} ${h}`}
                  preserveAspectRatio="none"
                  role="img"
                  aria-label={`${nObjects} objects drawn`}
                  data-testid="overlay"
                >
                  {labels.map((l, i) =>
                    hidden.has(l.name) ? null : (
                      <Shape key={i} label={l} w={w} h={h} active={hover === i} onHover={(on) => setHover(on ? i : null)} />
                    ),
                  )}
                  {/* Names on top of every shape, placed so that no two overlap. */}
                  {[...placed].map(([i, p]) => (
                    <g key={`t${i}`} class={`shape-label${hover === i ? " active" : ""}`} style={{ "--c": colorOf(labels[i].name) }} data-testid="box-label">
                      <rect x={p.x} y={p.y} width={p.w} height={p.h} rx={fontSize / 5} />
                      <text x={p.x + fontSize / 4} y={p.y + fontSize} font-size={fontSize}>
                        {labels[i].name}
                      </text>
                    </g>
                  ))}
                </svg>
              ) : null}
            </div>
          </div>
          {item.text ? (
            <div class="item-text" aria-label="Text">
              {item.text.split("\n").map((line, i) => (
                <p key={i}>{line}</p>
              ))}
            </div>
          ) : null}
        </div>

        <aside class="side">
          <section class="panel" aria-label="Labels">
            <h2>
              Labels{" "}
              <span class="muted" data-testid="object-count">
                {nObjects ? `${nObjects} object${nObjects === 1 ? "" : "s"}` : labels.length ? `${labels.length}` : ""}
              </span>
            </h2>
            {!labels.length ? <p class="muted">No labels.</p> : null}
            <ul class="label-list" data-testid="labels">
              {names.map((name) => {
                const ls = labels.filter((l) => l.name === name);
                const on = !hidden.has(name);
                return (
                  <li key={name}>
                    <label>
                      <input
                        type="checkbox"
                        checked={on}
                        aria-label={`Show ${name}`}
                        onChange={() =>
                          setHidden((s) => {
                            const n = new Set(s);
                            if (on) n.add(name);
                            else n.delete(name);
                            return n;
                          })
                        }
                      />
                      <span class="swatch" style={{ background: colorOf(name) }} />
                      <span class="label-name">{name}</span>
                    </label>
                    <span class="muted small" data-testid="label-summary">
                      {summarize(ls)}
                    </span>
                  </li>
                );
              })}
            </ul>
          </section>

          <section class="panel" aria-label="Tag scores">
            <h2>Tag scores</h2>
            <ScoreTable scores={tag_scores} dataset={dataset} />
          </section>

          <section class="panel" aria-label="Details">
            <h2>Details</h2>
            <dl class="kv">
              <dt>Path</dt>
              <dd class="mono break">{item.path}</dd>
              <dt>Modality</dt>
              <dd>{item.modality}</dd>
              {Object.entries(item.metadata ?? {}).map(([k, v]) => (
                <>
                  <dt key={`k${k}`}>{k}</dt>
                  <dd key={`v${k}`} class="break">
                    {typeof v === "object" ? JSON.stringify(v) : String(v)}
                  </dd>
                </>
              ))}
            </dl>
          </section>
        </aside>
      </div>

      <Similar id={item.id} dataset={dataset} />
    </>
  );
}

/** One object per annotation: a COCO object's box and polygon are two label rows of one object. */
function objectKeys(labels: Label[]): Set<string> {
  const keys = new Set<string>();
  labels.forEach((l, i) => {
    if (!l.geometry) return;
    const id = l.attributes?.coco_id;
    keys.add(id !== undefined && id !== null ? `${l.name}\u0000${String(id)}` : `#${i}`);
  });
  return keys;
}

function countObjects(labels: Label[]): number {
  return objectKeys(labels).size;
}

function summarize(ls: Label[]): string {
  const n = countObjects(ls);
  const kinds = [...new Set(ls.map((l) => l.kind))].join(" + ");
  const what = n ? `${n} object${n === 1 ? "" : "s"} (${kinds})` : kinds;
  const src = [...new Set(ls.map((l) => l.source))].join(", ");
  const sc = ls.find((l) => l.score !== null)?.score;
  return `${what} · ${src}${sc != null ? ` · ${fmtScore(sc, 2)}` : ""}`;
}

interface Placed {
  x: number;
  y: number;
  w: number;
  h: number;
}

/**
 * Where each shown box's name goes, in image pixels: above the box's corner if free, else the
 * nearest free spot (by line, then beside the names already placed), larger boxes first, so that
 * no two names overlap.
 */
function placeLabels(labels: Label[], hidden: Set<string>, w: number, h: number, font: number): Map<number, Placed> {
  const boxes = labels
    .map((l, i) => ({ i, l, b: (l.geometry as { bbox?: number[] } | null)?.bbox }))
    .filter((x): x is { i: number; l: Label; b: number[] } => Array.isArray(x.b) && !hidden.has(x.l.name))
    .sort((a, b) => b.b[2] * b.b[3] - a.b[2] * a.b[3]);
  const done: Placed[] = [];
  const out = new Map<number, Placed>();
  const lh = font * 1.35;
  const overlaps = (p: Placed) =>
    done.some((q) => p.x < q.x + q.w && q.x < p.x + p.w && p.y < q.y + q.h && q.y < p.y + p.h);
  const rows: number[] = [];
  for (let y = 0; y + lh <= h; y += lh) rows.push(y);
  for (const { i, l, b } of boxes) {
    const tw = Math.min(w, l.name.length * font * 0.62 + font / 2);
    const fit = (x: number) => Math.max(0, Math.min(x, w - tw));
    const x0 = fit(b[0]);
    const y0 = Math.max(0, Math.min(b[1] - lh, h - lh));
    const ys = [y0, Math.max(0, Math.min(b[1], h - lh)), ...rows].sort((a, c) => Math.abs(a - y0) - Math.abs(c - y0));
    const xs = [x0, ...done.flatMap((q) => [fit(q.x + q.w + 1), fit(q.x - tw - 1)])].sort(
      (a, c) => Math.abs(a - x0) - Math.abs(c - x0),
    );
    let spot: Placed | null = null;
    for (const y of ys) {
      const x = xs.find((x) => !overlaps({ x, y, w: tw, h: lh }));
      if (x !== undefined) {
        spot = { x, y, w: tw, h: lh };
        break;
      }
    }
    if (!spot) continue; // the picture is full: the name stays in the tooltip and the list
    done.push(spot);
    out.set(i, spot);
  }
  return out;
}

function Shape({
  label,
  w,
  h,
  active,
  onHover,
}: {
  label: Label;
  w: number;
  h: number;
  active: boolean;
  onHover: (on: boolean) => void;
}) {
  const g = label.geometry as Record<string, unknown> | null;
  const mask = useMemo(() => (g && g.rle ? rleToDataUrl(g.rle, colorOf(label.name)) : null), [g]);
  if (!g) return null;
  const color = colorOf(label.name);
  const common = {
    class: `shape${active ? " active" : ""}`,
    style: { "--c": color },
    onMouseEnter: () => onHover(true),
    onMouseLeave: () => onHover(false),
    "data-label": label.name,
  };
  const title = <title>{`${label.name} (${label.kind}, ${label.source}${label.score != null ? `, ${fmtScore(label.score, 2)}` : ""})`}</title>;
  const stroke = Math.max(2, Math.round(Math.max(w, h) / 300));
  if (Array.isArray(g.bbox)) {
    const [x, y, bw, bh] = g.bbox as number[];
    return (
      <g {...common} data-testid="box">
        {title}
        <rect x={x} y={y} width={bw} height={bh} stroke-width={stroke} />
      </g>
    );
  }
  if (Array.isArray(g.polygons) || Array.isArray(g.points)) {
    const parts = (Array.isArray(g.polygons) ? g.polygons : [g.points]) as number[][];
    const d = parts
      .filter((p) => Array.isArray(p) && p.length >= 4)
      .map((p) => {
        const flat = typeof p[0] === "number" ? p : (p as unknown as number[][]).flat();
        let s = `M${flat[0]},${flat[1]}`;
        for (let i = 2; i + 1 < flat.length; i += 2) s += `L${flat[i]},${flat[i + 1]}`;
        return label.kind === "polyline" ? s : `${s}Z`;
      })
      .join(" ");
    return (
      <g {...common} data-testid={label.kind === "polyline" ? "polyline" : "polygon"}>
        {title}
        <path d={d} fill-rule="evenodd" stroke-width={stroke} class={label.kind === "polyline" ? "open" : ""} />
      </g>
    );
  }
  if (mask) {
    return (
      <g {...common} data-testid="mask">
        {title}
        <image href={mask} x={0} y={0} width={w} height={h} preserveAspectRatio="none" opacity={0.45} />
      </g>
    );
  }
  return null;
}

export function ScoreTable({ scores, dataset }: { scores: TagScore[]; dataset: string }) {
  const rows = [...scores].sort((a, b) => b.score - a.score);
  if (!rows.length) return <p class="muted">No tag has scored this item yet.</p>;
  return (
    <table class="scores" data-testid="tag-scores">
      <tbody>
        {rows.map((t) => (
          <tr key={t.column} data-decision={t.decision} data-column={t.column}>
            <td>
              <a href={href("d", dataset, "tags", t.group, t.tag)} title={`SQL: ${t.column}`}>
                <span class="muted">{t.group} / </span>
                {t.tag}
              </a>
            </td>
            <td class="score-cell">
              <span class="minibar" aria-hidden="true">
                <span style={{ width: `${Math.round(t.score * 100)}%` }} />
              </span>
              <span class="mono">{fmtScore(t.score)}</span>
            </td>
            <td>
              <Chip kind={t.decision ? "pos" : "muted"} title={`threshold ${fmtScore(t.threshold, 2)}`}>
                {t.decision ? "tagged" : "not tagged"}
              </Chip>
            </td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

function Similar({ id, dataset }: { id: number; dataset: string }) {
  const k = useConfig()?.similar_k ?? 0;
  const [spaces, setSpaces] = useState<Space[]>([]);
  const [space, setSpace] = useState<string>("");
  const [hits, setHits] = useState<Hit[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  useEffect(() => {
    api.dataset(dataset).then(
      (d) => {
        setSpaces(d.spaces);
        // Semantic spaces first (the server's choice): phash neighbours of a photo look random.
        if (!space && d.default_space) setSpace(d.default_space);
        if (!d.spaces.length) setHits([]);
      },
      () => setHits([]),
    );
  }, [dataset]);
  useEffect(() => {
    if (!space || !k) return;
    setHits(null);
    setError(null);
    api.similar(id, { k: k + 1, space }).then(
      (h) => setHits(h.filter((x) => x.item_id !== id).slice(0, k)),
      (e) => {
        setError(errorText(e));
        setHits([]);
      },
    );
  }, [id, space, k]);
  const chosen = spaces.find((s) => s.name === space);
  return (
    <section class="panel similar" aria-label="Similar items" data-testid="similar">
      <header class="panel-head">
        <h2>Similar items</h2>
        {spaces.length > 1 ? (
          <select aria-label="Embedding space" value={space} onChange={(e) => setSpace((e.target as HTMLSelectElement).value)}>
            {spaces.map((s) => (
              <option key={s.name} value={s.name}>
                {s.name} ({s.kind})
              </option>
            ))}
          </select>
        ) : null}
      </header>
      {chosen && !chosen.semantic ? (
        <p class="warn small" data-testid="not-semantic">
          {spaces.some((s) => s.semantic)
            ? `The ${chosen.name} space compares pixels, not content: it finds copies, so other neighbours look random.`
            : `This dataset has only the ${chosen.name} space, which compares pixels, not content: it finds copies, so other neighbours look random. Run tagscope embed ${dataset} --kind clip for neighbours by content.`}
        </p>
      ) : null}
      <ErrorBox error={error} />
      {hits === null ? (
        <Spinner />
      ) : !hits.length && !error ? (
        <Empty>{spaces.length ? "No similar items." : "No embeddings yet: run tagscope embed."}</Empty>
      ) : (
        <div class="thumb-grid small">
          {hits.map((h) => (
            <Thumb key={h.item_id} id={h.item_id} src={h.thumbnail_url} score={h.score} title={h.path.split("/").pop()} />
          ))}
        </div>
      )}
    </section>
  );
}
