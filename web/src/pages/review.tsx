// Expert review of a label job (F-72): the class-changed table of a tab (Pending / Accepted /
// Rejected), filters, the changes of the selected cell, and the focused change's image with the
// expert label and the prelabel drawn in two colours. Accept / reject / move to pending act on
// the focused change, or on the whole selected cell when none is focused (hotkeys A / R / P;
// arrows move the focus). Every decision is one change-set, undoable on the History page.
import { useEffect, useMemo, useRef, useState } from "preact/hooks";
import {
  api,
  errorText,
  REVIEW_TABS,
  type ChangeLabel,
  type LabelChange,
  type ReviewCell,
  type ReviewFilters,
  type ReviewStatus,
  type ReviewSummary,
} from "../api";
import { A, can, whyNot } from "../auth";
import { Empty, ErrorBox, PageHead, Spinner, fmtCount, fmtScore } from "../components/ui";
import { href } from "../router";
import { rleToDataUrl } from "../rle";
import { toast } from "../store";

const LIMIT = 200;
const EXPERT = "#16a36a";
const PRELABEL = "#f0652e";
const TAB_NAMES: Record<ReviewStatus, string> = { pending: "Pending", accepted: "Accepted", rejected: "Rejected" };
const DECISIONS: [ReviewStatus, string, string][] = [
  ["accepted", "Accept", "A"],
  ["rejected", "Reject", "R"],
  ["pending", "Move to pending", "P"],
];

/** A cell of the class-changed table: an expert class (null: a deleted prelabel) and/or a flag. */
interface Cell {
  expert_class?: string | null;
  class_changed?: boolean;
}

interface Ranges {
  min_area: string;
  max_area: string;
  min_adjustment: string;
  max_adjustment: string;
}

const NO_RANGES: Ranges = { min_area: "", max_area: "", min_adjustment: "", max_adjustment: "" };

export function ReviewPage({ ds, job }: { ds: string; job: string }) {
  const [tab, setTab] = useState<ReviewStatus>("pending");
  const [summary, setSummary] = useState<ReviewSummary | null>(null);
  const [expertClass, setExpertClass] = useState("");
  const [changed, setChanged] = useState<"" | "true" | "false">("");
  const [ranges, setRanges] = useState<Ranges>(NO_RANGES);
  const [groupBy, setGroupBy] = useState<"class" | "class_changed">("class");
  const [cell, setCell] = useState<Cell | null>(null);
  const [list, setList] = useState<{ total: number; changes: LabelChange[] } | null>(null);
  const [focus, setFocus] = useState<number | null>(null);
  const [refresh, setRefresh] = useState(0);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);

  useEffect(() => {
    let alive = true;
    api.reviewSummary(ds, job).then(
      (s) => alive && setSummary(s),
      (e) => alive && setError(errorText(e)),
    );
    return () => {
      alive = false;
    };
  }, [ds, job, refresh]);

  // What the list (and a decision on the whole cell) selects.
  const filters = useMemo(
    () => selection(tab, cell, expertClass, changed, ranges, groupBy),
    [tab, cell, expertClass, changed, ranges, groupBy],
  );
  const filtersKey = JSON.stringify(filters);
  useEffect(() => {
    if (!cell) {
      setList(null);
      return;
    }
    let alive = true;
    api.reviewChanges(ds, job, { ...filters, limit: LIMIT }).then(
      (l) => {
        if (!alive) return;
        setList(l);
        setFocus((f) => (f === null ? null : Math.min(f, l.changes.length - 1) >= 0 ? Math.min(f, l.changes.length - 1) : null));
      },
      (e) => alive && setError(errorText(e)),
    );
    return () => {
      alive = false;
    };
  }, [ds, job, filtersKey, refresh, cell !== null]);

  const changes = list?.changes ?? [];
  const focused = focus !== null ? (changes[focus] ?? null) : null;
  const shown = focused ?? changes[0] ?? null;

  const mayDecide = can(A.REVIEW_DECIDE, ds);
  const decide = async (decision: ReviewStatus) => {
    if (!mayDecide || busy || (!focused && (!cell || !list?.total))) return;
    if (decision === tab) return; // already there
    setBusy(true);
    setError(null);
    try {
      const r = await api.decide(ds, job, decision, focused ? [focused.id] : null, filters);
      const what = focused ? `change ${focused.id}` : plural(r.n_changed, "change");
      toast(`${what} ${decision === "pending" ? "moved to pending" : decision}`, "ok");
      if (!focused) setFocus(null);
      setRefresh((x) => x + 1);
    } catch (e) {
      setError(errorText(e));
    } finally {
      setBusy(false);
    }
  };

  // Hotkeys, read through a ref so the listener sees this render's state.
  const keys = useRef<(e: KeyboardEvent) => void>(() => undefined);
  keys.current = (e: KeyboardEvent) => {
    if (e.metaKey || e.ctrlKey || e.altKey) return;
    const t = e.target as HTMLElement | null;
    if (t && (t.closest("input, select, textarea") || t.isContentEditable)) return;
    if (document.querySelector("dialog[open]")) return;
    const k = e.key.toLowerCase();
    const hit = DECISIONS.find(([, , key]) => key.toLowerCase() === k);
    if (hit) {
      e.preventDefault();
      void decide(hit[0]);
    } else if ((k === "arrowdown" || k === "arrowright") && changes.length) {
      e.preventDefault();
      setFocus((f) => (f === null ? 0 : Math.min(changes.length - 1, f + 1)));
    } else if ((k === "arrowup" || k === "arrowleft") && changes.length) {
      e.preventDefault();
      setFocus((f) => (f === null ? 0 : Math.max(0, f - 1)));
    } else if (k === "escape" && focus !== null) {
      setFocus(null);
    }
  };
  useEffect(() => {
    const on = (e: KeyboardEvent) => keys.current(e);
    window.addEventListener("keydown", on);
    return () => window.removeEventListener("keydown", on);
  }, []);

  // The focused row stays in view while the arrows move it.
  const listRef = useRef<HTMLDivElement>(null);
  useEffect(() => {
    listRef.current?.querySelector(".change-row.focused")?.scrollIntoView({ block: "nearest" });
  }, [focus, list]);

  const classes = useMemo(
    () => [...new Set((summary?.table ?? []).map((r) => r.expert_class).filter((c): c is string => c !== null))].sort(),
    [summary],
  );
  const pick = (c: Cell) => {
    setCell(c);
    setFocus(null);
  };

  return (
    <section class="page review-page" aria-label="Review" data-testid="review-page">
      <PageHead
        title={
          <>
            <a class="crumb" href={href("d", ds, "label-jobs")}>
              Label jobs
            </a>{" "}
            / Review {job}
          </>
        }
        sub="Each expert label matched to its prelabel. Pick a cell of the table, then accept or reject it whole, or focus its changes one by one (↑ ↓)."
      />
      <ErrorBox error={error} testid="review-error" />
      <div class="tabs" role="tablist" aria-label="Review status">
        {REVIEW_TABS.map((t) => (
          <button
            key={t}
            type="button"
            role="tab"
            class={`tab${tab === t ? " active" : ""}`}
            aria-selected={tab === t}
            data-testid={`tab-${t}`}
            onClick={() => {
              setTab(t);
              setFocus(null);
            }}
          >
            {TAB_NAMES[t]} <span class="tab-count" data-testid="tab-count">{summary ? fmtCount(summary.tabs[t]) : "…"}</span>
          </button>
        ))}
      </div>

      <div class="review-filters" role="group" aria-label="Filters">
        <label class="inline">
          <span>Expert class</span>
          <select
            value={expertClass}
            aria-label="Expert class"
            data-testid="filter-class"
            onChange={(e) => {
              setExpertClass((e.target as HTMLSelectElement).value);
              setCell(null); // the table's rows change: pick again
            }}
          >
            <option value="">any</option>
            {classes.map((c) => (
              <option key={c} value={c}>
                {c}
              </option>
            ))}
          </select>
        </label>
        <label class="inline">
          <span>Class changed</span>
          <select
            value={changed}
            aria-label="Class changed"
            data-testid="filter-changed"
            onChange={(e) => {
              setChanged((e.target as HTMLSelectElement).value as "" | "true" | "false");
              setCell(null);
            }}
          >
            <option value="">any</option>
            <option value="true">true</option>
            <option value="false">false</option>
          </select>
        </label>
        <Range label="Expert area" lo="min_area" hi="max_area" ranges={ranges} onChange={setRanges} step={1} />
        <Range label="Adjustment" lo="min_adjustment" hi="max_adjustment" ranges={ranges} onChange={setRanges} step={0.05} />
        <label class="inline">
          <span>Group by</span>
          <select
            value={groupBy}
            aria-label="Group by"
            data-testid="group-by"
            onChange={(e) => {
              setGroupBy((e.target as HTMLSelectElement).value as "class" | "class_changed");
              setCell(null);
            }}
          >
            <option value="class">class</option>
            <option value="class_changed">class changed</option>
          </select>
        </label>
      </div>

      <div class="review-layout">
        <div class="review-left">
          {summary ? (
            <ClassTable
              rows={summary.table.filter(
                (r) => (!expertClass || r.expert_class === expertClass) && (!changed || String(r.class_changed) === changed),
              )}
              tab={tab}
              groupBy={groupBy}
              cell={cell}
              onPick={pick}
            />
          ) : (
            <Spinner />
          )}
          {Object.values(ranges).some((v) => v.trim() !== "") ? (
            <p class="muted small" data-testid="ranges-note">
              The table counts every change of a cell; the area and adjustment ranges narrow the list below, and
              what a decision on the whole cell acts on.
            </p>
          ) : null}
          <div class="panel change-list-panel">
            <div class="panel-head">
              <strong>{cell ? cellText(cell) : "Changes"}</strong>
              <span class="muted small" data-testid="changes-total">
                {list ? `${fmtCount(list.total)} in ${TAB_NAMES[tab].toLowerCase()}${list.total > changes.length ? `, first ${changes.length}` : ""}` : ""}
              </span>
            </div>
            {!cell ? <p class="muted small">Pick a cell of the table to list its changes.</p> : null}
            {cell && !list ? <Spinner /> : null}
            {list && !changes.length ? <p class="muted small">No changes here.</p> : null}
            <div class="review-changes" ref={listRef} data-testid="changes" role="listbox" aria-label="Changes">
              {changes.map((c, i) => (
                <button
                  key={c.id}
                  type="button"
                  role="option"
                  aria-selected={focus === i}
                  class={`change-row${focus === i ? " focused" : ""}`}
                  data-testid="change"
                  data-change-id={c.id}
                  onClick={() => setFocus(focus === i ? null : i)}
                >
                  <img src={c.thumbnail || `/api/items/${c.item_id}/thumbnail`} alt="" loading="lazy" decoding="async" />
                  <span class="change-main">
                    <span>
                      <span class="chip chip-muted">{c.change.replaceAll("_", " ")}</span> {classChange(c)}
                    </span>
                    <span class="muted small">
                      item {c.item_id} · {c.label_kind}
                      {c.iou !== null ? ` · IoU ${fmtScore(c.iou, 2)}` : ""}
                      {c.adjustment !== null ? ` · ×${fmtScore(c.adjustment, 2)}` : ""}
                    </span>
                  </span>
                </button>
              ))}
            </div>
          </div>
        </div>

        <aside class="review-side panel" aria-label="Image" data-testid="review-panel">
          <div class="decide-bar" role="group" aria-label="Decision">
            {DECISIONS.map(([d, text, key]) => (
              <button
                key={d}
                type="button"
                class={d === "accepted" ? "primary" : d === "rejected" ? "danger" : "ghost"}
                data-testid={`decide-${d}`}
                disabled={!mayDecide || busy || d === tab || (!focused && (!cell || !list?.total))}
                title={
                  whyNot(A.REVIEW_DECIDE, ds) ??
                  `${text} ${focused ? "the focused change" : "the whole cell"} (${key})`
                }
                onClick={() => decide(d)}
              >
                {text} <kbd>{key}</kbd>
              </button>
            ))}
          </div>
          <p class="muted small" data-testid="decide-target">
            {focused
              ? `Acts on change ${focused.id} (item ${focused.item_id}). Esc: the whole cell.`
              : cell
                ? `Acts on the whole cell: ${list ? plural(list.total, "change") : "…"}.`
                : "Pick a cell or a change."}
          </p>
          {shown ? <ChangeImage change={shown} /> : <Empty>No change to show.</Empty>}
        </aside>
      </div>
    </section>
  );
}

function Range({
  label,
  lo,
  hi,
  ranges,
  onChange,
  step,
}: {
  label: string;
  lo: keyof Ranges;
  hi: keyof Ranges;
  ranges: Ranges;
  onChange: (r: Ranges) => void;
  step: number;
}) {
  const box = (k: keyof Ranges, text: string) => (
    <input
      type="number"
      class="num"
      min={0}
      step={step}
      value={ranges[k]}
      placeholder={text}
      aria-label={`${label} ${text}`}
      data-testid={`filter-${k}`}
      onChange={(e) => onChange({ ...ranges, [k]: (e.target as HTMLInputElement).value })}
    />
  );
  return (
    <span class="inline range">
      <span>{label}</span>
      {box(lo, "min")}
      <span class="muted">–</span>
      {box(hi, "max")}
    </span>
  );
}

/** The class-changed table of one tab: per expert class, class changed false / true. */
function ClassTable({
  rows,
  tab,
  groupBy,
  cell,
  onPick,
}: {
  rows: ReviewCell[];
  tab: ReviewStatus;
  groupBy: "class" | "class_changed";
  cell: Cell | null;
  onPick: (c: Cell) => void;
}) {
  const same = (c: Cell) => JSON.stringify(c) === JSON.stringify(cell);
  const td = (c: Cell, n: number) => (
    <td
      class={`num cell${same(c) ? " on" : ""}${n ? " clickable" : " zero"}`}
      data-testid="cell"
      data-class={c.expert_class === undefined ? undefined : (c.expert_class ?? "")}
      data-changed={c.class_changed === undefined ? undefined : String(c.class_changed)}
      aria-selected={same(c)}
      onClick={() => onPick(c)}
    >
      {fmtCount(n)}
    </td>
  );
  if (groupBy === "class_changed") {
    const byFlag = [false, true].map((f) => rows.filter((r) => r.class_changed === f).reduce((n, r) => n + r[tab], 0));
    return (
      <table class="results-table class-table" data-testid="class-table">
        <thead>
          <tr>
            <th>Class changed</th>
            <th class="num">{TAB_NAMES[tab]}</th>
          </tr>
        </thead>
        <tbody>
          {[false, true].map((f, i) => (
            <tr key={String(f)}>
              <th scope="row">{String(f)}</th>
              {td({ class_changed: f }, byFlag[i])}
            </tr>
          ))}
        </tbody>
      </table>
    );
  }
  // The classes with changes in this tab (and the selected one, so the selection stays visible).
  const names = [
    ...new Set(
      rows.filter((r) => r[tab] > 0 || (cell && r.expert_class === cell.expert_class)).map((r) => r.expert_class),
    ),
  ].sort((a, b) =>
    a === null ? 1 : b === null ? -1 : a.localeCompare(b),
  );
  const count = (c: string | null, f: boolean) =>
    rows.filter((r) => r.expert_class === c && r.class_changed === f).reduce((n, r) => n + r[tab], 0);
  return (
    <table class="results-table class-table" data-testid="class-table">
      <thead>
        <tr>
          <th>Expert class</th>
          <th class="num" title="The expert kept the prelabel's class">class changed: false</th>
          <th class="num" title="The expert changed the prelabel's class">class changed: true</th>
        </tr>
      </thead>
      <tbody>
        {names.length ? null : (
          <tr>
            <td colSpan={3} class="muted">
              No label changes {tab === "pending" ? "left to review" : `${tab} yet`}.
            </td>
          </tr>
        )}
        {names.map((c) => (
          <tr key={c ?? "\u0000"}>
            <th scope="row">{c ?? <span class="muted">deleted (no expert label)</span>}</th>
            {td({ expert_class: c, class_changed: false }, count(c, false))}
            {td({ expert_class: c, class_changed: true }, count(c, true))}
          </tr>
        ))}
      </tbody>
    </table>
  );
}

/** The item's image, the expert label and the prelabel drawn over it in two colours; zoomed
 * to the two labels (a small box is lost in a whole photo) unless the whole image is asked for. */
function ChangeImage({ change }: { change: LabelChange }) {
  // [item id, width, height] of an image whose item has no recorded size.
  const [natural, setNatural] = useState<[number, number, number] | null>(null);
  const [whole, setWhole] = useState(false);
  // The item whose image has loaded (no reset effect: a cached image may load before it runs).
  const [loadedId, setLoadedId] = useState<number | null>(null);
  const loaded = loadedId === change.item_id;
  const own = natural?.[0] === change.item_id ? natural : null;
  const w = change.width ?? own?.[1] ?? null;
  const h = change.height ?? own?.[2] ?? null;
  const media = `/api/items/${change.item_id}/media`;
  const around = w && h ? crop([change.expert, change.prelabel], w, h) : null;
  const [vx, vy, vw, vh] = !whole && around ? around : [0, 0, w ?? 0, h ?? 0];
  return (
    <div class="review-image" data-testid="change-image" data-change-id={change.id} data-loaded={loaded}>
      <div class="legend">
        <span style={{ "--c": EXPERT }}>
          expert: <strong data-testid="expert-class">{change.expert?.name ?? change.expert_class ?? "none"}</strong>
        </span>
        <span style={{ "--c": PRELABEL }} class="dashed">
          prelabel: <strong data-testid="prelabel-class">{change.prelabel?.name ?? change.prelabel_class ?? "none"}</strong>
        </span>
        <span class="spacer" />
        {around ? (
          <button type="button" class="small ghost" data-testid="zoom" onClick={() => setWhole(!whole)}>
            {whole ? "Zoom to the labels" : "Whole image"}
          </button>
        ) : null}
      </div>
      {w && h ? (
        <svg
          class="review-stage"
          viewBox={`${vx} ${vy} ${vw} ${vh}`}
          style={{ aspectRatio: `${vw} / ${vh}` }}
          role="img"
          aria-label={`item ${change.item_id}: expert and prelabel`}
          data-testid="overlay"
        >
          <image href={media} x={0} y={0} width={w} height={h} onLoad={() => setLoadedId(change.item_id)} />
          {change.expert ? <Drawn label={change.expert} color={EXPERT} w={w} h={h} who="expert" /> : null}
          {/* On top, dashed: where the two agree, both stay visible. */}
          {change.prelabel ? <Drawn label={change.prelabel} color={PRELABEL} w={w} h={h} who="prelabel" /> : null}
        </svg>
      ) : (
        // The size comes from the image itself when the item has none recorded.
        <img
          src={media}
          alt={`item ${change.item_id}`}
          onLoad={(e) => {
            const img = e.target as HTMLImageElement;
            setNatural([change.item_id, img.naturalWidth, img.naturalHeight]);
          }}
        />
      )}
      <dl class="facts">
        <dt>Change</dt>
        <dd data-testid="change-kind">{change.change.replaceAll("_", " ")}</dd>
        <dt>Item</dt>
        <dd>
          <a href={href("items", change.item_id)}>{change.path || `item ${change.item_id}`}</a>
        </dd>
        {change.iou !== null ? (
          <>
            <dt>IoU</dt>
            <dd>{fmtScore(change.iou, 3)}</dd>
          </>
        ) : null}
        {change.expert_area !== null || change.prelabel_area !== null ? (
          <>
            <dt>Area</dt>
            <dd>
              {area(change.expert_area)} expert / {area(change.prelabel_area)} prelabel
              {change.adjustment !== null ? ` (×${fmtScore(change.adjustment, 3)})` : ""}
            </dd>
          </>
        ) : null}
        <dt>Status</dt>
        <dd data-testid="change-status">{change.status}</dd>
      </dl>
    </div>
  );
}

/** The extent [x0, y0, x1, y1] of a label's geometry (boxes, polygons, polylines). */
function extent(label: ChangeLabel | null): number[] | null {
  const g = label?.geometry;
  if (!g) return null;
  if (Array.isArray(g.bbox)) {
    const [x, y, bw, bh] = g.bbox as number[];
    return [x, y, x + bw, y + bh];
  }
  const parts = (g.polygons ?? g.lines) as number[][] | undefined;
  if (!Array.isArray(parts)) return null;
  const xs = parts.flatMap((p) => p.filter((_, i) => i % 2 === 0));
  const ys = parts.flatMap((p) => p.filter((_, i) => i % 2 === 1));
  return xs.length ? [Math.min(...xs), Math.min(...ys), Math.max(...xs), Math.max(...ys)] : null;
}

/** A view [x, y, w, h] around the labels: twice their extent, at least a third of the image;
 * null when that is nearly the whole image anyway (or nothing has a shape). */
function crop(labels: (ChangeLabel | null)[], w: number, h: number): number[] | null {
  const boxes = labels.map(extent).filter((b): b is number[] => b !== null);
  if (!boxes.length) return null;
  const [x0, y0] = [Math.min(...boxes.map((b) => b[0])), Math.min(...boxes.map((b) => b[1]))];
  const [x1, y1] = [Math.max(...boxes.map((b) => b[2])), Math.max(...boxes.map((b) => b[3]))];
  const cw = Math.min(w, Math.max(w / 3, (x1 - x0) * 2));
  const ch = Math.min(h, Math.max(h / 3, (y1 - y0) * 2));
  if (cw * ch > 0.8 * w * h) return null;
  const cx = Math.min(w - cw, Math.max(0, (x0 + x1) / 2 - cw / 2));
  const cy = Math.min(h - ch, Math.max(0, (y0 + y1) / 2 - ch / 2));
  return [cx, cy, cw, ch];
}

function Drawn({ label, color, w, h, who }: { label: ChangeLabel; color: string; w: number; h: number; who: string }) {
  const g = label.geometry;
  const mask = useMemo(() => (g && g.rle ? rleToDataUrl(g.rle, color) : null), [g, color]);
  if (!g) return null;
  const common = { class: `shape review-${who}`, style: { "--c": color }, "data-testid": `drawn-${who}` };
  const title = <title>{`${who}: ${label.name} (${label.kind})`}</title>;
  if (Array.isArray(g.bbox)) {
    const [x, y, bw, bh] = g.bbox as number[];
    return (
      <g {...common}>
        {title}
        <rect x={x} y={y} width={bw} height={bh} />
      </g>
    );
  }
  const parts = (g.polygons ?? g.lines) as number[][] | undefined;
  if (Array.isArray(parts)) {
    const open = Array.isArray(g.lines);
    const d = parts
      .filter((p) => Array.isArray(p) && p.length >= 4)
      .map((p) => {
        let s = `M${p[0]},${p[1]}`;
        for (let i = 2; i + 1 < p.length; i += 2) s += `L${p[i]},${p[i + 1]}`;
        return open ? s : `${s}Z`;
      })
      .join(" ");
    return (
      <g {...common}>
        {title}
        <path d={d} fill-rule="evenodd" class={open ? "open" : ""} />
      </g>
    );
  }
  if (mask)
    return (
      <g {...common}>
        {title}
        <image href={mask} x={0} y={0} width={w} height={h} preserveAspectRatio="none" opacity={0.45} />
      </g>
    );
  return null;
}

/** The filters of the list: the tab, the cell (else the filter bar's class and flag), ranges. */
function selection(
  tab: ReviewStatus,
  cell: Cell | null,
  expertClass: string,
  changed: string,
  r: Ranges,
  groupBy: "class" | "class_changed",
): ReviewFilters {
  const f: ReviewFilters = { status: tab, group_by: groupBy };
  const cls = cell && cell.expert_class !== undefined ? cell.expert_class : expertClass || undefined;
  // A row without an expert class is the prelabels the expert deleted.
  if (cls === null) f.change = "deleted";
  else if (cls !== undefined) f.expert_class = cls;
  const flag = cell?.class_changed ?? (changed ? changed === "true" : undefined);
  if (flag !== undefined) f.class_changed = flag;
  for (const k of ["min_area", "max_area", "min_adjustment", "max_adjustment"] as const) {
    const v = r[k].trim();
    if (v !== "" && Number.isFinite(Number(v))) f[k] = Number(v);
  }
  return f;
}

function cellText(c: Cell): string {
  const parts = [];
  if (c.expert_class !== undefined) parts.push(c.expert_class ?? "deleted");
  if (c.class_changed !== undefined) parts.push(`class changed: ${c.class_changed}`);
  return parts.join(" · ");
}

function classChange(c: LabelChange): string {
  if (c.change === "class_changed") return `${c.prelabel_class ?? "?"} → ${c.expert_class ?? "?"}`;
  return c.expert_class ?? c.prelabel_class ?? "";
}

function area(a: number | null): string {
  return a === null ? "–" : fmtCount(Math.round(a));
}

function plural(n: number, word: string): string {
  return `${fmtCount(n)} ${word}${n === 1 ? "" : "s"}`;
}
