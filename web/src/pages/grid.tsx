// Grid (F-50, F-42): thumbnails with infinite scroll, sort, SQL filter bar, chips, multi-select.
import { Component } from "preact";
import { useEffect, useMemo, useRef, useState } from "preact/hooks";
import { api, errorText, type DatasetInfo, type GridItem, type TagGroup } from "../api";
import { A, can, whyNot } from "../auth";
import { Thumb } from "../components/thumbs";
import { ItemOverlay } from "./item";
import { Chip, Dialog, ErrorBox, Field, Spinner, fmtCount, fmtScore } from "../components/ui";
import { href, navigate } from "../router";
import { labelHref } from "../labeling/nav";
import { firstScreen, firstScreenDone, toast } from "../store";
import { labelFilter, sqlString } from "../sqlfilters";
import { SaveCollectionDialog } from "./collections";
import { BulkClassifyDialog, type BulkSource } from "./bulk";
import { PredictSelectionDialog } from "./model";
import { fmtTime, useModalities } from "./video";

const SORTS = ["id", "path", "size", "width", "height", "format", "split"];
const PAGE = 100;

interface State {
  /** The pages loaded so far, each kept as it came (rendered as a memoised chunk). */
  pages: GridItem[][];
  total: number | null;
  cursor: string | null;
  loading: boolean;
  done: boolean;
  error: string | null;
}

const EMPTY: State = { pages: [], total: null, cursor: null, loading: true, done: false, error: null };

export function GridPage({ ds, q }: { ds: string; q: URLSearchParams }) {
  const where = q.get("where") ?? "";
  const collection = q.get("collection") ?? "";
  const sort = q.get("sort") ?? "id";
  const order = q.get("order") === "desc" ? "desc" : "asc";
  const modality = q.get("modality") ?? "";
  const key = `${ds}|${collection}|${where}|${sort}|${order}|${modality}`;
  // The modality filter narrows the SQL filter (the query bar keeps only the user's own).
  const filter = [where.trim() ? `(${where.trim()})` : "", modality ? `modality = ${sqlString(modality)}` : ""]
    .filter(Boolean)
    .join(" AND ");

  const [state, setState] = useState<State>(EMPTY);
  const [draft, setDraft] = useState(where);
  const [selected, setSelected] = useState<Set<number>>(new Set());
  const [lastClicked, setLastClicked] = useState<number | null>(null);
  const [info, setInfo] = useState<DatasetInfo | null>(null);
  const [scoreSorts, setScoreSorts] = useState<[string, string][]>([]);
  const [size, setSize] = useState(() => Number(localStorage.getItem("tagscope.thumb")) || 168);
  const [tagDialog, setTagDialog] = useState(false);
  /** What the save-as-collection dialog saves: the filter or the selected items. */
  const [saving, setSaving] = useState<{ where?: string; item_ids?: number[] } | null>(null);
  /** Bulk classify works on a collection: a filter is saved as one first. */
  const [classifyAfterSave, setClassifyAfterSave] = useState(false);
  const [bulk, setBulk] = useState<BulkSource | null>(null);
  const [predicting, setPredicting] = useState(false);
  const sentinel = useRef<HTMLDivElement>(null);
  const inflight = useRef<string | null>(null);
  const version = useRef(0);

  function load(reset: boolean, cursor: string | null) {
    const v = reset ? ++version.current : version.current;
    const token = `${v}:${cursor ?? ""}`;
    if (inflight.current === token) return;
    inflight.current = token;
    if (reset) setState(EMPTY);
    else setState((s) => ({ ...s, loading: true }));
    api
      .items(ds, { where: filter || undefined, collection: collection || undefined, sort, order, limit: PAGE, cursor })
      .then((page) => {
        if (v !== version.current) return;
        setState((s) => ({
          pages: reset ? [page.items] : [...s.pages, page.items],
          total: page.total,
          cursor: page.next_cursor,
          loading: false,
          done: !page.next_cursor || page.items.length === 0,
          error: null,
        }));
      })
      .catch((e) => {
        if (v !== version.current) return;
        setState((s) => ({ ...s, loading: false, done: true, error: errorText(e) }));
      })
      .finally(() => {
        if (inflight.current === token) inflight.current = null;
      });
  }

  const items = useMemo(() => state.pages.flat(), [state.pages]);
  const handlers = useRef<Handlers>(null as unknown as Handlers);

  // The first page starts during the first render: nothing waits for an effect or a frame.
  const started = useRef<string | null>(null);
  if (started.current !== key) {
    started.current = key;
    load(true, null);
  }

  useEffect(() => setDraft(where), [where]);
  useEffect(() => setSelected(new Set()), [key]);
  useEffect(() => {
    let alive = true;
    void firstScreen.then(() => {
      if (!alive) return;
      api.dataset(ds).then(setInfo, () => setInfo(null));
      api.groups(ds).then(
        (groups) =>
          alive &&
          setScoreSorts(
            // The server names each scored tag's SQL column (a clashing name gets a suffix).
            groups.flatMap((g) =>
              Object.entries(g.columns ?? {}).map(([tag, column]) => [column, `${g.name} / ${tag} score`] as [string, string]),
            ),
          ),
        () => undefined,
      );
    });
    return () => {
      alive = false;
    };
  }, [ds]);

  // The first screen is done when the first page's thumbnails have loaded (or failed).
  const grid = useRef<HTMLDivElement>(null);
  useEffect(() => {
    if (state.loading) return;
    const imgs = [...(grid.current?.querySelectorAll("img") ?? [])].slice(0, PAGE);
    void Promise.all(
      imgs.map((img) =>
        img.complete
          ? null
          : new Promise<void>((done) => {
              img.addEventListener("load", () => done(), { once: true });
              img.addEventListener("error", () => done(), { once: true });
            }),
      ),
    ).then(firstScreenDone);
  }, [state.loading]);

  // Infinite scroll: the sentinel below the grid asks for the next page when it comes near.
  useEffect(() => {
    const el = sentinel.current;
    if (!el || state.loading || state.done) return;
    const io = new IntersectionObserver(
      (entries) => {
        if (entries.some((e) => e.isIntersecting)) load(false, state.cursor);
      },
      { rootMargin: "1200px 0px" },
    );
    io.observe(el);
    return () => io.disconnect();
  }, [state.loading, state.done, state.cursor, key]);

  const setQuery = (p: Record<string, string | undefined>, replace = false) =>
    navigate(href("d", ds, "grid", { where, collection, sort, order, modality, ...p }), replace);

  const applyFilter = (e?: Event) => {
    e?.preventDefault();
    setQuery({ where: draft.trim() || undefined });
  };

  const addFilter = (expr: string) => {
    const next = where.trim() ? `(${where.trim()}) AND ${expr}` : expr;
    setQuery({ where: next });
  };

  const toggle = (id: number, e: MouseEvent) => {
    setSelected((old) => {
      const next = new Set(old);
      if (e.shiftKey && lastClicked !== null) {
        const ids = items.map((i) => i.id);
        const [a, b] = [ids.indexOf(lastClicked), ids.indexOf(id)].sort((x, y) => x - y);
        if (a >= 0) for (const x of ids.slice(a, b + 1)) next.add(x);
      } else if (next.has(id)) next.delete(id);
      else next.add(id);
      return next;
    });
    setLastClicked(id);
  };

  // An item opens over the grid, which stays as it was (scroll position, loaded pages).
  const openItem = q.get("item") ? Number(q.get("item")) : null;
  const onOpen = (id: number) => (e: MouseEvent) => {
    if (e.metaKey || e.ctrlKey || e.shiftKey || selected.size) return toggle(id, e);
    // A video opens on its page; a shot or cue (no image of its own) on its video's, at its time.
    const it = items.find((i) => i.id === id);
    const m = (it?.metadata ?? {}) as { video_id?: number; start_ms?: number };
    if (it?.modality === "video") navigate(href("d", ds, "videos", id));
    else if ((it?.modality === "shot" || it?.modality === "transcript") && m.video_id)
      navigate(href("d", ds, "videos", m.video_id, { t: m.start_ms }));
    else setQuery({ item: String(id) });
  };

  handlers.current = { toggle, open: onOpen, label: (l: string) => addFilter(labelFilter(l)) };

  // The kinds of item the dataset holds (images; videos, keyframes, shots, cues), for the filter.
  const modalities = useModalities(ds, firstScreen);

  // Completion and the example filter use this dataset's own columns, tags and labels.
  const [columns, setColumns] = useState<string[]>([]);
  useEffect(() => {
    void firstScreen.then(() =>
      api.tables().then(
        // "width BIGINT" -> "width"
        (ts) => setColumns((ts.find((t) => t.name === "items")?.columns ?? []).map((c) => c.split(" ")[0])),
        () => undefined,
      ),
    );
  }, []);
  const words = useMemo(
    () => [
      ...columns,
      ...scoreSorts.map(([column]) => column),
      ...Object.keys(info?.labels ?? {}).map(labelFilter),
    ],
    [columns, scoreSorts, info],
  );
  const topLabel = Object.entries(info?.labels ?? {}).sort((a, b) => b[1] - a[1])[0]?.[0];
  const placeholder = [
    "SQL filter, e.g. width > 500",
    topLabel ? labelFilter(topLabel) : null,
    scoreSorts[0] ? `${scoreSorts[0][0]} >= 0.8` : null,
  ]
    .filter(Boolean)
    .join(" AND ");

  // The quick labels count the items the filter matches, as the server counts them.
  const [filtered, setFiltered] = useState<{ key: string; labels: Record<string, number> } | null>(null);
  const facetKey = `${ds}\n${where}`;
  useEffect(() => {
    if (!where) return;
    let alive = true;
    void firstScreen.then(() =>
      api.dataset(ds, where).then(
        (d) => alive && setFiltered({ key: facetKey, labels: d.labels }),
        // A refused filter: the grid says why; no counts of another filter stay on screen.
        () => alive && setFiltered({ key: facetKey, labels: {} }),
      ),
    );
    return () => {
      alive = false;
    };
  }, [facetKey]);
  const facets = where ? (filtered?.key === facetKey ? filtered.labels : null) : (info?.labels ?? null);
  const topLabels = useMemo(
    () =>
      Object.entries(facets ?? {})
        .sort((a, b) => b[1] - a[1])
        .slice(0, 14),
    [facets],
  );

  return (
    <section class="page grid-page" aria-label="Grid" style={{ "--thumb": `${size}px` }}>
      <form class="query-bar" onSubmit={applyFilter} role="search" aria-label="Filter items">
        <span class="query-prefix" aria-hidden="true">
          WHERE
        </span>
        <QueryInput
          value={draft}
          onInput={setDraft}
          words={words}
          placeholder={placeholder}
        />
        {where ? (
          <button type="button" class="ghost" aria-label="Clear filter" onClick={() => setQuery({ where: undefined })}>
            Clear
          </button>
        ) : null}
        <button type="submit" class="primary" data-testid="query-run">
          Filter
        </button>
      </form>

      <div class="grid-toolbar">
        <span class="count" data-testid="grid-total" aria-live="polite">
          {state.total === null ? "…" : `${fmtCount(state.total)} items`}
          {where ? <span class="muted"> matching</span> : null}
        </span>
        {collection ? (
          <span class="chip chip-collection" data-testid="grid-collection">
            in <a href={href("d", ds, "collections")}>{collection}</a>
            <button
              type="button"
              class="icon-btn"
              aria-label={`Show all items, not only ${collection}`}
              onClick={() => setQuery({ collection: undefined })}
            >
              ×
            </button>
          </span>
        ) : null}
        {where && !collection ? (
          <button
            type="button"
            class="ghost"
            data-testid="save-filter-collection"
            disabled={!can(A.COLLECTIONS_EDIT, ds)}
            title={
              whyNot(A.COLLECTIONS_EDIT, ds) ??
              "Save this filter as a dynamic collection (re-evaluated whenever it is read)"
            }
            onClick={() => setSaving({ where })}
          >
            Save as collection…
          </button>
        ) : null}
        {collection || where ? (
          <button
            type="button"
            class="ghost"
            data-testid="classify-filter"
            disabled={!can(A.LABELS_BULK, ds) || (!collection && !can(A.COLLECTIONS_EDIT, ds))}
            title={
              whyNot(A.LABELS_BULK, ds) ??
              (collection
                ? `Give every item of ${collection} one classification`
                : (whyNot(A.COLLECTIONS_EDIT, ds) ??
                  "Save this filter as a collection, then give its items one classification"))
            }
            onClick={() => {
              if (collection) setBulk({ collection });
              else {
                setClassifyAfterSave(true);
                setSaving({ where });
              }
            }}
          >
            Classify {collection ? "collection" : "all matching"}…
          </button>
        ) : null}
        <div class="spacer" />
        {modalities.length > 1 || modality ? (
          <label class="inline">
            <span>Kind</span>
            <select
              aria-label="Kind of item"
              data-testid="modality"
              value={modality}
              onChange={(e) => setQuery({ modality: (e.target as HTMLSelectElement).value || undefined })}
            >
              <option value="">all</option>
              {modalities.map(([m, n]) => (
                <option key={m} value={m}>
                  {m} ({fmtCount(n)})
                </option>
              ))}
            </select>
          </label>
        ) : null}
        {items.length ? (
          <a
            class="button ghost small"
            data-testid="label-filtered"
            title="Open the labeling tool on the items of this filter, in order"
            href={labelHref(ds, items[0].id, { from: "grid", where: filter, collection, sort, order })}
          >
            ✎ Label these
          </a>
        ) : null}
        <label class="inline">
          <span>Sort</span>
          <select
            aria-label="Sort by"
            data-testid="sort"
            value={sort}
            onChange={(e) => {
              const v = (e.target as HTMLSelectElement).value;
              // A tag score reads best first.
              setQuery({ sort: v, order: v.startsWith("tags_") ? "desc" : order });
            }}
          >
            {SORTS.map((s) => (
              <option key={s} value={s}>
                {s}
              </option>
            ))}
            {scoreSorts.length ? (
              <optgroup label="Tag score">
                {scoreSorts.map(([value, label]) => (
                  <option key={value} value={value}>
                    {label}
                  </option>
                ))}
              </optgroup>
            ) : null}
            {!SORTS.includes(sort) && !scoreSorts.some(([v]) => v === sort) ? <option value={sort}>{sort}</option> : null}
          </select>
        </label>
        <button
          type="button"
          class="ghost"
          aria-label={`Order: ${order === "asc" ? "ascending" : "descending"}`}
          data-testid="order"
          onClick={() => setQuery({ order: order === "asc" ? "desc" : "asc" })}
        >
          {order === "asc" ? "↑ asc" : "↓ desc"}
        </button>
        <label class="inline" title="Thumbnail size">
          <span aria-hidden="true">⊞</span>
          <input
            type="range"
            min={96}
            max={320}
            step={8}
            value={size}
            aria-label="Thumbnail size"
            onInput={(e) => {
              const v = Number((e.target as HTMLInputElement).value);
              setSize(v);
              localStorage.setItem("tagscope.thumb", String(v));
            }}
          />
        </label>
      </div>

      {/* The counts are of the filter alone: not shown inside a collection. */}
      {topLabels.length && !collection ? (
        <div class="quick-labels" aria-label="Filter by label" data-testid="quick-labels" data-where={where}>
          {topLabels.map(([name, n]) => (
            <button
              key={name}
              type="button"
              class="chip chip-label clickable"
              data-label={name}
              data-count={n}
              title={`${n} ${where ? "matching " : ""}items: filter to ${name}`}
              onClick={() => addFilter(labelFilter(name))}
            >
              {name} <span class="muted">{n}</span>
            </button>
          ))}
        </div>
      ) : null}
      {selected.size ? (
        <div class="selection-bar" role="region" aria-label="Selection" data-testid="selection-bar">
          <strong data-testid="selection-count">{selected.size} selected</strong>
          <button type="button" class="ghost" onClick={() => setSelected(new Set(items.map((i) => i.id)))}>
            Select all loaded
          </button>
          <button type="button" class="ghost" onClick={() => setSelected(new Set())}>
            Clear
          </button>
          <div class="spacer" />
          <button
            type="button"
            onClick={() => setQuery({ where: `id IN (${[...selected].join(", ")})` })}
          >
            Show only selected
          </button>
          <button
            type="button"
            disabled={selected.size !== 1}
            onClick={() => navigate(href("d", ds, "search", { mode: "item", item: [...selected][0] }))}
          >
            Find similar
          </button>
          <button
            type="button"
            data-testid="label-selected"
            title="Open the labeling tool on the selected items, in the grid's order"
            onClick={() => {
              const ids = items.filter((i) => selected.has(i.id)).map((i) => i.id);
              if (ids.length) navigate(labelHref(ds, ids[0], { from: "grid", ids: ids.join(",") }));
            }}
          >
            Label
          </button>
          <button
            type="button"
            class="primary"
            data-testid="add-to-tag"
            disabled={!can(A.TAGS_EDIT, ds)}
            title={whyNot(A.TAGS_EDIT, ds) ?? "Mark the selected items as examples of a tag"}
            onClick={() => setTagDialog(true)}
          >
            Add to tag…
          </button>
          <button
            type="button"
            data-testid="save-selection-collection"
            disabled={!can(A.COLLECTIONS_EDIT, ds)}
            title={whyNot(A.COLLECTIONS_EDIT, ds) ?? "Save the selected items as a static collection"}
            onClick={() => setSaving({ item_ids: [...selected].sort((a, b) => a - b) })}
          >
            Save as collection…
          </button>
          <button
            type="button"
            data-testid="classify-selection"
            disabled={!can(A.LABELS_BULK, ds)}
            title={whyNot(A.LABELS_BULK, ds) ?? "Give the selected items one classification"}
            onClick={() => setBulk({ item_ids: [...selected].sort((a, b) => a - b) })}
          >
            Classify…
          </button>
          <button
            type="button"
            data-testid="validation-selection"
            disabled={!can(A.LABELS_EDIT, ds)}
            title={whyNot(A.LABELS_EDIT, ds) ?? "Put the selected items in the validation split (undo on the History page)"}
            onClick={() =>
              api
                .setSplit(ds, [...selected].sort((a, b) => a - b), "validation")
                .then((r) => {
                  toast(`${r.n_changed} item(s) added to the validation set`, "ok");
                  load(true, null);
                })
                .catch((e) => toast(errorText(e), "error"))
            }
          >
            Add to validation set
          </button>
          <button
            type="button"
            data-testid="predict-selection"
            title="Predict the selected items with one of the dataset's models"
            onClick={() => setPredicting(true)}
          >
            Predict…
          </button>
          <button
            type="button"
            class="ghost"
            onClick={() => {
              void navigator.clipboard?.writeText([...selected].join(","));
              toast("Item ids copied", "ok");
            }}
          >
            Copy ids
          </button>
        </div>
      ) : null}

      <ErrorBox error={state.error} testid="grid-error" />

      <div ref={grid} class="thumb-grid" data-testid="grid" aria-label="Items" aria-busy={state.loading}>
        {state.pages.map((page, i) => (
          <GridChunk
            key={i}
            page={page}
            eager={i === 0}
            selected={selected}
            handlers={handlers}
            scoreColumn={sort.startsWith("tags_") ? sort : null}
          />
        ))}
      </div>
      {!state.loading && !state.error && items.length === 0 ? (
        <div class="empty" data-testid="grid-empty">
          No items{where ? " match this filter" : ""}.
        </div>
      ) : null}
      <div ref={sentinel} class="sentinel">
        {state.loading ? <Spinner label="Loading items" /> : null}
        {state.done && items.length > 0 ? <span class="muted">End of results</span> : null}
      </div>

      {openItem !== null ? (
        <ItemOverlay
          id={openItem}
          ids={items.map((i) => i.id)}
          onMove={(id) => setQuery({ item: String(id) }, true)}
          onClose={() => setQuery({ item: undefined })}
        />
      ) : null}

      <AddToTagDialog
        open={tagDialog}
        ds={ds}
        ids={[...selected]}
        onClose={() => setTagDialog(false)}
      />
      <SaveCollectionDialog
        open={saving !== null}
        ds={ds}
        source={saving ?? {}}
        onClose={() => {
          setSaving(null);
          setClassifyAfterSave(false);
        }}
        onSaved={(c) => {
          // The cards show their new collection chip.
          if (c.kind === "static") load(true, null);
          if (classifyAfterSave) setBulk({ collection: c.title });
        }}
      />
      <PredictSelectionDialog
        open={predicting}
        ds={ds}
        ids={[...selected].sort((a, b) => a - b)}
        onClose={() => setPredicting(false)}
        // The cards show the labels written.
        onWritten={() => load(true, null)}
      />
      <BulkClassifyDialog
        open={bulk !== null}
        ds={ds}
        source={bulk}
        onClose={() => setBulk(null)}
        // The cards show their new labels.
        onApplied={() => load(true, null)}
      />
    </section>
  );
}

interface Handlers {
  toggle: (id: number, e: MouseEvent) => void;
  open: (id: number) => (e: MouseEvent) => void;
  label: (name: string) => void;
}

interface ChunkProps {
  page: GridItem[];
  eager: boolean;
  selected: Set<number>;
  handlers: { current: Handlers };
  /** The tag score column the grid is sorted by (tags_<group>.<column>), shown on each thumbnail. */
  scoreColumn: string | null;
}

/** One page of the grid. Appending a page renders only the new chunk. */
class GridChunk extends Component<ChunkProps> {
  shouldComponentUpdate(next: ChunkProps): boolean {
    const p = this.props;
    return (
      p.page !== next.page ||
      p.selected !== next.selected ||
      p.eager !== next.eager ||
      p.scoreColumn !== next.scoreColumn
    );
  }

  render({ page, eager, selected, handlers, scoreColumn }: ChunkProps) {
    return (
      <div class="chunk">
        {page.map((it) => (
          <Thumb
            key={it.id}
            id={it.id}
            src={it.thumbnail_url}
            title={it.name}
            eager={eager}
            score={scoreColumn ? (it.tag_scores.find((t) => t.column === scoreColumn)?.score ?? null) : undefined}
            selected={selected.has(it.id)}
            card={textCard(it)}
            onToggle={(e) => handlers.current.toggle(it.id, e)}
            onOpen={(e) => handlers.current.open(it.id)(e)}
          >
            <div class="card-title" title={it.path}>
              {it.name}
            </div>
            <ItemChips item={it} onLabel={(l) => handlers.current.label(l)} />
          </Thumb>
        ))}
      </div>
    );
  }
}

/** The card of an item with no image of its own: a shot's time range, a cue's time and words. */
function textCard(it: GridItem) {
  if (it.modality !== "shot" && it.modality !== "transcript") return undefined;
  const m = it.metadata as { start_ms?: number; end_ms?: number; shot_index?: number; cue_index?: number };
  const time = m.start_ms !== undefined && m.end_ms !== undefined ? `${fmtTime(m.start_ms)}–${fmtTime(m.end_ms)}` : "";
  const shot = it.modality === "shot";
  return (
    <div class="text-card" data-testid="text-card" data-modality={it.modality}>
      <span class="text-card-kind">
        {shot ? `shot ${(m.shot_index ?? 0) + 1}` : `cue ${(m.cue_index ?? 0) + 1}`}
      </span>
      <span class="text-card-time">{time}</span>
      {!shot && it.text ? <span class="text-card-body">{it.text}</span> : null}
    </div>
  );
}

function ItemChips({ item, onLabel }: { item: GridItem; onLabel: (l: string) => void }) {
  const labels = item.labels ?? [];
  const collections = item.collections ?? [];
  // The tags the server decides positive at their current thresholds, best first.
  const scores = item.tag_scores
    .filter((t) => t.decision)
    .sort((a, b) => b.score - a.score)
    .slice(0, 3);
  if (!labels.length && !scores.length && !collections.length && !item.split) return null;
  return (
    <div class="chips">
      {item.split ? (
        <Chip kind="muted" title={`In the ${item.split} split`}>
          <span data-testid="split-chip">{item.split}</span>
        </Chip>
      ) : null}
      {labels.slice(0, 3).map((l) => (
        <button
          key={l}
          type="button"
          class="chip chip-label clickable"
          title={`Filter to ${l}`}
          tabIndex={-1}
          onClick={(e) => {
            e.stopPropagation();
            onLabel(l);
          }}
        >
          {l}
        </button>
      ))}
      {labels.length > 3 ? <Chip kind="muted">+{labels.length - 3}</Chip> : null}
      {collections.map((c) => (
        <Chip key={`c:${c}`} kind="collection" title={`In the collection ${c}`}>
          <span data-testid="collection-chip">▤ {c}</span>
        </Chip>
      ))}
      {scores.map((t) => (
        <Chip key={t.column} kind="tag" title={`${t.group} / ${t.tag}: ${fmtScore(t.score)} ≥ threshold ${fmtScore(t.threshold, 2)}`}>
          <span data-testid="tag-chip" data-column={t.column}>
            {/* Two groups may both have a tag "dog": the group tells them apart. */}
            {scores.filter((x) => x.tag === t.tag).length > 1 ? `${t.group}/` : ""}
            {t.tag} {fmtScore(t.score, 2)}
          </span>
        </Chip>
      ))}
    </div>
  );
}

/** Mark the selected items as positive or negative examples of a tag. */
export function AddToTagDialog({
  open,
  ds,
  ids,
  onClose,
}: {
  open: boolean;
  ds: string;
  ids: number[];
  onClose: () => void;
}) {
  const [groups, setGroups] = useState<TagGroup[] | null>(null);
  const [target, setTarget] = useState("");
  const [polarity, setPolarity] = useState<"positive" | "negative">("positive");
  const [error, setError] = useState<string | null>(null);
  useEffect(() => {
    if (!open) return;
    api.groups(ds).then(
      (g) => {
        const own = g.filter((x) => x.dataset === ds);
        setGroups(own);
        const first = own[0]?.tags[0];
        if (first && !target) setTarget(`${own[0].name}\u0000${first.name}`);
      },
      (e) => setError(errorText(e)),
    );
  }, [open, ds]);
  const submit = async (e: Event) => {
    e.preventDefault();
    const [g, t] = target.split("\u0000");
    try {
      await api.mark(ds, g, t, ids, polarity);
      toast(`${ids.length} items marked ${polarity} for ${t}`, "ok");
      onClose();
    } catch (err) {
      setError(errorText(err));
    }
  };
  return (
    <Dialog open={open} onClose={onClose} title="Add to tag" testid="add-to-tag-dialog">
      <form class="dialog-body" onSubmit={submit}>
        {groups && !groups.length ? (
          <p>
            No tag group is trained on this dataset yet. <a href={href("d", ds, "tags")}>Create one</a>.
          </p>
        ) : (
          <>
            <Field label="Tag">
              <select
                value={target}
                aria-label="Tag"
                onChange={(e) => setTarget((e.target as HTMLSelectElement).value)}
              >
                {(groups ?? []).map((g) => (
                  <optgroup key={g.id} label={g.name}>
                    {g.tags.map((t) => (
                      <option key={t.name} value={`${g.name}\u0000${t.name}`}>
                        {t.name}
                      </option>
                    ))}
                  </optgroup>
                ))}
              </select>
            </Field>
            <div class="segmented" role="radiogroup" aria-label="Polarity">
              {(["positive", "negative"] as const).map((p) => (
                <label key={p} class={polarity === p ? "on" : ""}>
                  <input
                    type="radio"
                    name="polarity"
                    value={p}
                    checked={polarity === p}
                    onChange={() => setPolarity(p)}
                  />
                  {p}
                </label>
              ))}
            </div>
          </>
        )}
        <ErrorBox error={error} />
        <footer class="dialog-foot">
          <button type="button" class="ghost" onClick={onClose}>
            Cancel
          </button>
          <button type="submit" class="primary" disabled={!target}>
            Mark {ids.length} items
          </button>
        </footer>
      </form>
    </Dialog>
  );
}

export { sqlString };

// The word being typed, or a label filter being typed: has_label(id, 'do
const WORD = /has_label\(id, '[^']*$|[\w.]*$/;

/**
 * The query bar's input: completes the word being typed from the dataset's columns, tag score
 * columns and label filters (↑ ↓ to choose, Tab or Enter to take one, Esc to dismiss).
 */
function QueryInput({
  value,
  onInput,
  words,
  placeholder,
}: {
  value: string;
  onInput: (v: string) => void;
  words: string[];
  placeholder: string;
}) {
  const ref = useRef<HTMLInputElement>(null);
  const [open, setOpen] = useState(false);
  const [active, setActive] = useState(0);
  const [caret, setCaret] = useState(0);
  const start = value.slice(0, caret).search(WORD);
  const word = value.slice(start, caret);
  const choices = word.length
    ? words.filter((w) => w.toLowerCase().startsWith(word.toLowerCase()) && w !== word).slice(0, 8)
    : [];
  const shown = open && choices.length > 0;
  const take = (w: string) => {
    // From the input itself: typing may be ahead of the last render.
    const el = ref.current;
    const text = el?.value ?? value;
    const end = el?.selectionStart ?? caret;
    const from = text.slice(0, end).search(WORD);
    const next = text.slice(0, from) + w + text.slice(end);
    const at = from + w.length;
    if (el) {
      el.value = next;
      el.setSelectionRange(at, at);
    }
    onInput(next);
    setOpen(false);
    setCaret(at);
  };
  return (
    <div class="query-input">
      <input
        ref={ref}
        type="text"
        class="mono"
        value={value}
        placeholder={placeholder}
        title="A SQL expression over the columns of items, has_label(id, 'name'), and tag scores tags_<group>.<tag>"
        aria-label="SQL filter"
        aria-autocomplete="list"
        aria-expanded={shown}
        aria-controls="query-completions"
        data-testid="query-input"
        spellcheck={false}
        autocomplete="off"
        onInput={(e) => {
          const el = e.target as HTMLInputElement;
          onInput(el.value);
          setCaret(el.selectionStart ?? el.value.length);
          setActive(0);
          setOpen(true);
        }}
        onBlur={() => setOpen(false)}
        onKeyDown={(e) => {
          if (!shown) return;
          if (e.key === "ArrowDown" || e.key === "ArrowUp") {
            setActive((a) => (a + (e.key === "ArrowDown" ? 1 : choices.length - 1)) % choices.length);
          } else if (e.key === "Tab" || e.key === "Enter") {
            take(choices[active] ?? choices[0]);
          } else if (e.key === "Escape") {
            setOpen(false);
          } else return;
          e.preventDefault();
        }}
      />
      {shown ? (
        <ul class="completions" id="query-completions" role="listbox" data-testid="completions">
          {choices.map((w, i) => (
            <li
              key={w}
              role="option"
              aria-selected={i === active}
              class={`mono${i === active ? " on" : ""}`}
              onMouseDown={(e) => {
                e.preventDefault();
                take(w);
              }}
            >
              {w}
            </li>
          ))}
        </ul>
      ) : null}
    </div>
  );
}
