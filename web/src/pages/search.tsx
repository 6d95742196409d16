// Search (F-11, F-12, F-13): by text, by uploaded image, by item; k, minimum score, label filter
// any/all; near-duplicate pairs side by side.
import { useEffect, useRef, useState } from "preact/hooks";
import { api, errorText, type Config, type DatasetInfo, type Hit, type ModelState, type PairHit, type SearchOptions } from "../api";
import { A, can, whyNot } from "../auth";
import { useConfig } from "../config";
import { Thumb } from "../components/thumbs";
import { Empty, ErrorBox, Field, PageHead, Spinner, fmtScore } from "../components/ui";
import { href, navigate } from "../router";
import { AddToTagDialog } from "./grid";

type Mode = "text" | "image" | "item" | "duplicates";
const MODES: [Mode, string][] = [
  ["text", "Text"],
  ["image", "Image"],
  ["item", "Item"],
  ["duplicates", "Near-duplicates"],
];

export function SearchPage({ ds, q }: { ds: string; q: URLSearchParams }) {
  const mode = (q.get("mode") as Mode) || "text";
  const [info, setInfo] = useState<DatasetInfo | null>(null);
  useEffect(() => {
    api.dataset(ds).then(setInfo, () => setInfo(null));
  }, [ds]);

  const config = useConfig();
  const opts = readOptions(q, info, mode, config);
  const setParams = (p: Record<string, unknown>) =>
    navigate(href("d", ds, "search", { ...Object.fromEntries(q), ...p }));

  return (
    <section class="page search-page" aria-label="Search">
      <PageHead title="Search" sub="Find items by text, by an image, by an item, or find near-duplicates." />
      <div class="tabs" role="tablist" aria-label="Search mode">
        {MODES.map(([m, label]) => (
          <a
            key={m}
            role="tab"
            aria-selected={mode === m}
            class={mode === m ? "tab active" : "tab"}
            href={href("d", ds, "search", { ...Object.fromEntries(q), mode: m })}
            data-testid={`mode-${m}`}
          >
            {label}
          </a>
        ))}
      </div>
      <Options ds={ds} info={info} opts={opts} mode={mode} onChange={setParams} />
      {mode === "text" ? <TextSearch ds={ds} q={q} opts={opts} onQuery={(t) => setParams({ q: t })} /> : null}
      {mode === "image" ? <ImageSearch ds={ds} opts={opts} /> : null}
      {mode === "item" ? <ItemSearch ds={ds} q={q} opts={opts} onItem={(id) => setParams({ item: id })} /> : null}
      {mode === "duplicates" ? <Duplicates ds={ds} q={q} opts={opts} /> : null}
    </section>
  );
}

function readOptions(q: URLSearchParams, info: DatasetInfo | null, mode: Mode, config: Config | null): SearchOptions {
  const labels = (q.get("labels") ?? "").split(",").map((s) => s.trim()).filter(Boolean);
  const min = q.get("min");
  const spaces = info?.spaces ?? [];
  // Near-duplicates in a pixel space (phash); everything else in the server's default, semantic, space.
  const fallback =
    mode === "duplicates"
      ? (spaces.find((s) => !s.semantic)?.name ?? info?.default_space)
      : mode === "image"
        ? (spaces.find((s) => s.kind === "clip")?.name ?? info?.default_space)
        : info?.default_space;
  const k = mode === "duplicates" ? config?.duplicates_k : config?.search_k;
  return {
    // Searches start once the space is known; waiting for the config too asks once, not twice.
    space: config ? q.get("space") || fallback || undefined : undefined,
    k: Number(q.get("k")) || k,
    min_score: min !== null && min !== "" ? Number(min) : null,
    labels,
    label_mode: q.get("lm") === "all" ? "all" : "any",
  };
}

function Options({
  info,
  opts,
  mode,
  onChange,
}: {
  ds: string;
  info: DatasetInfo | null;
  opts: SearchOptions;
  mode: Mode;
  onChange: (p: Record<string, unknown>) => void;
}) {
  const [labelDraft, setLabelDraft] = useState("");
  const allLabels = Object.keys(info?.labels ?? {}).sort();
  const chosen = info?.spaces.find((s) => s.name === opts.space);
  const addLabel = (l: string) => {
    const v = l.trim();
    if (!v || opts.labels?.includes(v)) return;
    onChange({ labels: [...(opts.labels ?? []), v].join(",") });
    setLabelDraft("");
  };
  return (
    <div class="options" aria-label="Search options">
      <Field label="Space">
        <select
          aria-label="Embedding space"
          data-testid="space"
          value={opts.space ?? ""}
          onChange={(e) => onChange({ space: (e.target as HTMLSelectElement).value })}
        >
          {(info?.spaces ?? []).map((s) => (
            <option key={s.name} value={s.name}>
              {s.name} · {s.kind}
            </option>
          ))}
          {!info?.spaces.length ? <option value="">(none)</option> : null}
        </select>
      </Field>
      {mode !== "duplicates" && chosen && !chosen.semantic ? (
        <p class="warn small options-note" data-testid="not-semantic">
          {chosen.name} compares pixels, not content: it finds copies and near-copies, so the other results look
          random.
          {info?.spaces.some((s) => s.semantic)
            ? " Choose a semantic space (text, clip) to find similar content."
            : " Embed this dataset with a semantic model for that: tagscope embed <dataset> --kind clip."}
        </p>
      ) : null}
      <Field label="Max results (k)">
        <input
          type="number"
          min={1}
          max={1000}
          value={opts.k ?? ""}
          aria-label="Max results"
          data-testid="k"
          onChange={(e) => onChange({ k: (e.target as HTMLInputElement).value })}
        />
      </Field>
      <Field label="Min score">
        <input
          type="number"
          min={-1}
          max={1}
          step={0.01}
          placeholder="none"
          value={opts.min_score ?? ""}
          aria-label="Minimum score"
          data-testid="min-score"
          onChange={(e) => onChange({ min: (e.target as HTMLInputElement).value })}
        />
      </Field>
      <Field label="Labels">
        <div class="label-filter">
          {(opts.labels ?? []).map((l) => (
            <button
              key={l}
              type="button"
              class="chip chip-label clickable"
              aria-label={`Remove label ${l}`}
              onClick={() => onChange({ labels: (opts.labels ?? []).filter((x) => x !== l).join(",") })}
            >
              {l} ×
            </button>
          ))}
          <input
            list="label-names"
            value={labelDraft}
            placeholder="add label…"
            aria-label="Add label filter"
            data-testid="label-input"
            onInput={(e) => setLabelDraft((e.target as HTMLInputElement).value)}
            onChange={(e) => {
              const v = (e.target as HTMLInputElement).value;
              if (allLabels.includes(v)) addLabel(v);
            }}
            onKeyDown={(e) => {
              if (e.key === "Enter") {
                e.preventDefault();
                addLabel(labelDraft);
              }
            }}
          />
          <datalist id="label-names">
            {allLabels.map((l) => (
              <option key={l} value={l} />
            ))}
          </datalist>
        </div>
      </Field>
      <div class="segmented" role="radiogroup" aria-label="Label match">
        {(["any", "all"] as const).map((m) => (
          <label key={m} class={opts.label_mode === m ? "on" : ""}>
            <input
              type="radio"
              name="label-mode"
              value={m}
              checked={opts.label_mode === m}
              data-testid={`label-mode-${m}`}
              onChange={() => onChange({ lm: m })}
            />
            {m === "any" ? "any (or)" : "all (and)"}
          </label>
        ))}
      </div>
    </div>
  );
}

function useSearch<T>(run: (() => Promise<T>) | null, deps: unknown[]) {
  const [data, setData] = useState<T | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [loading, setLoading] = useState(false);
  const seq = useRef(0);
  useEffect(() => {
    if (!run) {
      setData(null);
      return;
    }
    const n = ++seq.current;
    setLoading(true);
    setError(null);
    run().then(
      (d) => {
        if (n !== seq.current) return;
        setData(d);
        setLoading(false);
      },
      (e) => {
        if (n !== seq.current) return;
        setError(errorText(e));
        setData(null);
        setLoading(false);
      },
    );
  }, deps);
  return { data, error, loading };
}

function optsKey(o: SearchOptions) {
  return JSON.stringify(o);
}

function TextSearch({
  ds,
  q,
  opts,
  onQuery,
}: {
  ds: string;
  q: URLSearchParams;
  opts: SearchOptions;
  onQuery: (t: string) => void;
}) {
  const text = q.get("q") ?? "";
  const [draft, setDraft] = useState(text);
  useEffect(() => setDraft(text), [text]);
  const res = useSearch(
    text && opts.space !== undefined ? () => api.searchText(ds, text, opts) : null,
    [ds, text, optsKey(opts)],
  );
  return (
    <>
      <form
        class="query-bar big"
        role="search"
        aria-label="Text search"
        onSubmit={(e) => {
          e.preventDefault();
          onQuery(draft.trim());
        }}
      >
        <input
          type="search"
          value={draft}
          placeholder="Describe what you are looking for, e.g. a dog on a beach"
          aria-label="Search text"
          data-testid="search-input"
          onInput={(e) => setDraft((e.target as HTMLInputElement).value)}
        />
        <button type="submit" class="primary" data-testid="search-run">
          Search
        </button>
      </form>
      <Results ds={ds} {...res} empty={text ? "Nothing matched." : "Type a query to search."} />
    </>
  );
}

function ImageSearch({ ds, opts }: { ds: string; opts: SearchOptions }) {
  const [file, setFile] = useState<File | null>(null);
  const [preview, setPreview] = useState<string | null>(null);
  const [drag, setDrag] = useState(false);
  const res = useSearch(file && opts.space ? () => api.searchImage(ds, file, opts) : null, [file, optsKey(opts)]);
  const pick = (f: File | undefined | null) => {
    if (!f) return;
    setFile(f);
    if (preview) URL.revokeObjectURL(preview);
    setPreview(URL.createObjectURL(f));
  };
  return (
    <>
      <label
        class={`dropzone${drag ? " over" : ""}`}
        onDragOver={(e) => {
          e.preventDefault();
          setDrag(true);
        }}
        onDragLeave={() => setDrag(false)}
        onDrop={(e) => {
          e.preventDefault();
          setDrag(false);
          pick(e.dataTransfer?.files[0]);
        }}
      >
        {preview ? <img src={preview} alt="Query image" class="query-image" /> : null}
        <span>
          {file ? file.name : "Drop an image here, or click to choose one"}
        </span>
        <input
          type="file"
          accept="image/*"
          aria-label="Upload an image"
          data-testid="image-input"
          onChange={(e) => pick((e.target as HTMLInputElement).files?.[0])}
        />
      </label>
      <Results ds={ds} {...res} empty={file ? "Nothing matched." : "Choose an image to search with."} />
    </>
  );
}

function ItemSearch({
  ds,
  q,
  opts,
  onItem,
}: {
  ds: string;
  q: URLSearchParams;
  opts: SearchOptions;
  onItem: (id: string) => void;
}) {
  const id = Number(q.get("item")) || null;
  const [draft, setDraft] = useState(id ? String(id) : "");
  // Only once the space is known: the server's own default (clip) may not exist here.
  const res = useSearch(id && opts.space ? () => api.searchItem(ds, id, opts) : null, [ds, id, optsKey(opts)]);
  return (
    <>
      <form
        class="query-bar"
        aria-label="Search by item"
        onSubmit={(e) => {
          e.preventDefault();
          onItem(draft.trim());
        }}
      >
        <span class="query-prefix">Item id</span>
        <input
          type="number"
          value={draft}
          aria-label="Item id"
          data-testid="item-input"
          onInput={(e) => setDraft((e.target as HTMLInputElement).value)}
        />
        <button type="submit" class="primary">
          Find similar
        </button>
      </form>
      {id ? (
        <div class="query-item">
          <Thumb id={id} src={`/api/items/${id}/thumbnail`} title={`item ${id}`} eager />
          <span class="muted">Query item · pick another from the grid with “Find similar”.</span>
        </div>
      ) : null}
      <Results ds={ds} {...res} empty={id ? "Nothing matched." : "Give an item id, or use “Find similar” on an item."} />
    </>
  );
}

export function Results({
  ds,
  data,
  error,
  loading,
  empty,
}: {
  ds: string;
  data: Hit[] | null;
  error: string | null;
  loading: boolean;
  empty: string;
}) {
  const [selected, setSelected] = useState<Set<number>>(new Set());
  const [dialog, setDialog] = useState(false);
  useEffect(() => setSelected(new Set()), [data]);
  const toggle = (id: number) =>
    setSelected((s) => {
      const n = new Set(s);
      if (n.has(id)) n.delete(id);
      else n.add(id);
      return n;
    });
  return (
    <div class="results" aria-busy={loading}>
      <ErrorBox error={error} testid="search-error" />
      {loading ? <SearchingNote /> : null}
      {data && !loading ? (
        <div class="results-head">
          <span class="muted" data-testid="result-count">
            {data.length} results
          </span>
          {selected.size ? (
            <>
              <strong>{selected.size} selected</strong>
              <button
                type="button"
                class="primary"
                data-testid="add-to-tag"
                disabled={!can(A.TAGS_EDIT, ds)}
                title={whyNot(A.TAGS_EDIT, ds)}
                onClick={() => setDialog(true)}
              >
                Add to tag…
              </button>
              <button
                type="button"
                class="ghost"
                onClick={() => navigate(href("d", ds, "grid", { where: `id IN (${[...selected].join(", ")})` }))}
              >
                Open in grid
              </button>
            </>
          ) : null}
        </div>
      ) : null}
      {data && !data.length && !loading ? <Empty>{empty}</Empty> : null}
      {!data && !loading && !error ? <Empty>{empty}</Empty> : null}
      {data && data.length ? (
        <div class="thumb-grid" data-testid="results">
          {data.map((h, i) => (
            <Thumb
              key={h.item_id}
              id={h.item_id}
              src={h.thumbnail_url}
              score={h.score}
              eager={i < 60}
              title={h.path.split("/").pop()}
              selected={selected.has(h.item_id)}
              onToggle={() => toggle(h.item_id)}
              testid="result"
            >
              <div class="card-title">
                <span class="rank">#{i + 1}</span> {h.path.split("/").pop()}
              </div>
              {h.labels?.length ? (
                <div class="chips">
                  {h.labels.slice(0, 3).map((l) => (
                    <span key={l} class="chip chip-label">
                      {l}
                    </span>
                  ))}
                </div>
              ) : null}
            </Thumb>
          ))}
        </div>
      ) : null}
      <AddToTagDialog open={dialog} ds={ds} ids={[...selected]} onClose={() => setDialog(false)} />
    </div>
  );
}

function Duplicates({ ds, opts }: { ds: string; q: URLSearchParams; opts: SearchOptions }) {
  const res = useSearch<PairHit[]>(opts.space !== undefined ? () => api.duplicates(ds, opts) : null, [
    ds,
    optsKey(opts),
  ]);
  return (
    <div class="results" aria-busy={res.loading}>
      <ErrorBox error={res.error} testid="search-error" />
      {res.loading ? <Spinner label="Finding pairs" /> : null}
      {res.data && !res.data.length ? <Empty>No near-duplicate pairs above the minimum score.</Empty> : null}
      <div class="pairs" data-testid="pairs">
        {(res.data ?? []).map((p) => (
          <div class="pair" key={`${p.a.item_id}-${p.b.item_id}`} data-testid="pair">
            <Thumb id={p.a.item_id} src={p.a.thumbnail_url} title={p.a.path.split("/").pop()}>
              <div class="card-title">{p.a.path.split("/").pop()}</div>
            </Thumb>
            <div class="pair-score">
              <span class="mono">{fmtScore(p.score)}</span>
              <span class="muted small">similarity</span>
            </div>
            <Thumb id={p.b.item_id} src={p.b.thumbnail_url} title={p.b.path.split("/").pop()}>
              <div class="card-title">{p.b.path.split("/").pop()}</div>
            </Thumb>
          </div>
        ))}
      </div>
    </div>
  );
}

/** The spinner of a running search; while the server still loads a model, it says so. */
function SearchingNote() {
  const [models, setModels] = useState<ModelState[]>([]);
  useEffect(() => {
    let alive = true;
    let timer = 0;
    const poll = () =>
      api.modelStatus().then(
        (st) => {
          if (!alive) return;
          const loading = st.models.filter((m) => m.status === "loading");
          setModels(loading);
          if (loading.length) timer = window.setTimeout(poll, 700);
        },
        () => undefined,
      );
    void poll();
    return () => {
      alive = false;
      clearTimeout(timer);
    };
  }, []);
  return (
    <div class="searching" role="status">
      <Spinner label="Searching" />
      {models.length ? (
        <span class="muted" data-testid="model-loading">
          Loading the {models.map((m) => m.kind).join(" and ")} model ({models.map((m) => m.model ?? "default").join(", ")}): the
          first search after the server starts waits for it, a few seconds.
        </span>
      ) : null}
    </div>
  );
}
