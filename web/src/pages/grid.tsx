// Grid (F-50, F-42): thumbnails with infinite scroll, sort, SQL filter bar, chips, multi-select.
import { Component } from "preact";
import { useEffect, useMemo, useRef, useState } from "preact/hooks";
import { api, errorText, type DatasetInfo, type GridItem, type TagGroup } from "../api";
import { Thumb } from "../components/thumbs";
import { Chip, Dialog, ErrorBox, Field, Spinner, fmtCount, fmtScore } from "../components/ui";
import { href, navigate } from "../router";
import { firstScreen, firstScreenDone, toast } from "../store";
import { labelFilter, scoreColumn, sqlString } from "../sqlfilters";

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
  const sort = q.get("sort") ?? "id";
  const order = q.get("order") === "desc" ? "desc" : "asc";
  const key = `${ds}|${where}|${sort}|${order}`;

  const [state, setState] = useState<State>(EMPTY);
  const [draft, setDraft] = useState(where);
  const [selected, setSelected] = useState<Set<number>>(new Set());
  const [lastClicked, setLastClicked] = useState<number | null>(null);
  const [info, setInfo] = useState<DatasetInfo | null>(null);
  const [scoreSorts, setScoreSorts] = useState<[string, string, string][]>([]);
  const [size, setSize] = useState(() => Number(localStorage.getItem("tagscope.thumb")) || 168);
  const [tagDialog, setTagDialog] = useState(false);
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
      .items(ds, { where: where || undefined, sort, order, limit: PAGE, cursor })
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
            groups
              .filter((g) => g.version > 0)
              .flatMap((g) =>
                g.tags.map(
                  (t) =>
                    [scoreColumn(g.slug, t.name), `${g.name} / ${t.name} score`, `${g.name}/${t.name}`] as [
                      string,
                      string,
                      string,
                    ],
                ),
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

  const setQuery = (p: Record<string, string | undefined>) =>
    navigate(href("d", ds, "grid", { where, sort, order, ...p }));

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

  const onOpen = (id: number) => (e: MouseEvent) => {
    if (e.metaKey || e.ctrlKey || e.shiftKey || selected.size) toggle(id, e);
    else navigate(href("items", id));
  };

  handlers.current = { toggle, open: onOpen, label: (l: string) => addFilter(labelFilter(l)) };

  const topLabels = useMemo(
    () =>
      Object.entries(info?.labels ?? {})
        .sort((a, b) => b[1] - a[1])
        .slice(0, 14),
    [info],
  );

  return (
    <section class="page grid-page" aria-label="Grid" style={{ "--thumb": `${size}px` }}>
      <form class="query-bar" onSubmit={applyFilter} role="search" aria-label="Filter items">
        <span class="query-prefix" aria-hidden="true">
          WHERE
        </span>
        <input
          type="text"
          class="mono"
          value={draft}
          placeholder="SQL filter, e.g. width > 500 AND has_label(id, 'dog') AND tags_animals.dog >= 0.8"
          title="A SQL expression over the columns of items (width, height, size, format, split, path, text, …), has_label(id, 'name'), and tag scores tags_<group>.<tag>"
          aria-label="SQL filter"
          data-testid="query-input"
          spellcheck={false}
          onInput={(e) => setDraft((e.target as HTMLInputElement).value)}
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
        <div class="spacer" />
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

      {topLabels.length ? (
        <div class="quick-labels" aria-label="Filter by label">
          {topLabels.map(([name, n]) => (
            <button
              key={name}
              type="button"
              class="chip chip-label clickable"
              title={`${n} items: filter to ${name}`}
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
          <button type="button" class="primary" onClick={() => setTagDialog(true)}>
            Add to tag…
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
            scoreKey={scoreSorts.find(([v]) => v === sort)?.[2] ?? null}
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

      <AddToTagDialog
        open={tagDialog}
        ds={ds}
        ids={[...selected]}
        onClose={() => setTagDialog(false)}
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
  /** The tag score the grid is sorted by ("group/tag"), shown on each thumbnail. */
  scoreKey: string | null;
}

/** One page of the grid. Appending a page renders only the new chunk. */
class GridChunk extends Component<ChunkProps> {
  shouldComponentUpdate(next: ChunkProps): boolean {
    const p = this.props;
    return (
      p.page !== next.page ||
      p.selected !== next.selected ||
      p.eager !== next.eager ||
      p.scoreKey !== next.scoreKey
    );
  }

  render({ page, eager, selected, handlers, scoreKey }: ChunkProps) {
    return (
      <div class="chunk">
        {page.map((it) => (
          <Thumb
            key={it.id}
            id={it.id}
            src={it.thumbnail_url}
            title={it.name}
            eager={eager}
            score={scoreKey ? (it.scores?.[scoreKey] ?? null) : undefined}
            selected={selected.has(it.id)}
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

function ItemChips({ item, onLabel }: { item: GridItem; onLabel: (l: string) => void }) {
  const labels = item.labels ?? [];
  // Tags that would tag the item at the default threshold, best first.
  const scores = Object.entries(item.scores ?? {})
    .filter(([, s]) => s >= 0.5)
    .sort((a, b) => b[1] - a[1])
    .slice(0, 3);
  if (!labels.length && !scores.length) return null;
  return (
    <div class="chips">
      {labels.slice(0, 3).map((l) => (
        <button
          key={l}
          type="button"
          class="chip chip-label clickable"
          title={`Filter to ${l}`}
          onClick={(e) => {
            e.stopPropagation();
            onLabel(l);
          }}
        >
          {l}
        </button>
      ))}
      {labels.length > 3 ? <Chip kind="muted">+{labels.length - 3}</Chip> : null}
      {scores.map(([name, s]) => (
        <Chip key={name} kind="tag" title={`${name}: ${fmtScore(s)}`}>
          {name.split("/").pop()} {fmtScore(s, 2)}
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
