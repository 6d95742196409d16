// Preview (F-24, F-25, F-22): a sample of positives and negatives at the threshold, which the slider
// updates at once; compare / positives / negatives views; bulk marking of examples; add from search
// and from the uncertain list; publish.
import { useEffect, useMemo, useRef, useState } from "preact/hooks";
import { api, errorText, type Job, type Preview, type Scored, type ScoreModality, type Tag, type TagGroup } from "../api";
import { A, can, whyNot } from "../auth";
import { Thumb } from "../components/thumbs";
import { Dialog, Empty, ErrorBox, JobProgress, NumberInput, PageHead, Spinner, fmtScore } from "../components/ui";
import { isFinished, watchJob } from "../jobs";
import { href, navigate } from "../router";
import { toast } from "../store";
import { useConfig } from "../config";
import { Prompts } from "./prompts";
import { ScoringChip, TagCounts, useScoring } from "./tags";
import { TagCrumbs, useTag } from "./tag";
import { fmtTime, useModalities } from "./video";

type View = "compare" | "positives" | "negatives";

/** The preview's tabs over a dataset of videos: which score table, shown when it has those items. */
const TABS: [ScoreModality, string, string[]][] = [
  ["visual", "Frames", ["image", "keyframe"]],
  ["shot", "Shots", ["shot"]],
  ["transcript", "Transcript", ["transcript"]],
];
/** Transcript cues read best from the most sure positive down (the server sorts them by score). */
const defaultView = (m: ScoreModality): View => (m === "transcript" ? "positives" : "compare");
type Polarity = "positive" | "negative";

export function PreviewPage({ ds, group, tag, q }: { ds: string; group: string; tag: string; q: URLSearchParams }) {
  const { group: g, tag: t, error, reload } = useTag(group, tag);
  if (error) return <ErrorBox error={error} />;
  if (!g || !t) return <Spinner />;
  return <PreviewBody ds={ds} group={g} tag={t} q={q} reload={reload} />;
}

function PreviewBody({
  ds,
  group,
  tag,
  q,
  reload,
}: {
  ds: string;
  group: TagGroup;
  tag: Tag;
  q: URLSearchParams;
  reload: () => Promise<unknown>;
}) {
  const [threshold, setThreshold] = useState(() => {
    const v = q.get("threshold");
    return v !== null && v !== "" ? Number(v) : tag.threshold;
  });
  const [fetchedAt, setFetchedAt] = useState(threshold);
  const [modality, setModality] = useState<ScoreModality>((q.get("modality") as ScoreModality) || "visual");
  const [view, setView] = useState<View>((q.get("view") as View) || defaultView(modality));
  const kinds = useModalities(ds);
  const tabs = TABS.filter(([, , items]) => kinds.some(([k]) => items.includes(k)));
  const chooseTab = (m: ScoreModality) => {
    setModality(m);
    setView(defaultView(m));
    setData(null);
    setSelected(new Set());
  };
  const [data, setData] = useState<Preview | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [loading, setLoading] = useState(false);
  // Staged marks outlive a visit to another page (kept per tag for the browser tab's session).
  const stagedKey = `tagscope.staged:${ds}:${group.name}:${tag.name}`;
  const [staged, setStaged] = useState<Map<number, Polarity>>(() => readStaged(stagedKey));
  const n = useConfig()?.preview_size ?? 0;
  const [selected, setSelected] = useState<Set<number>>(new Set());
  const [refresh, setRefresh] = useState(0);
  const [dialog, setDialog] = useState<"search" | "uncertain" | null>(null);
  const [job, setJob] = useState<Job | null>(null);
  const scoring = useScoring(ds, group);
  const seq = useRef(0);
  const existing = useMemo(() => new Map(tag.examples.map((e) => [e.item_id, e.polarity])), [tag]);

  useEffect(() => {
    if (staged.size) sessionStorage.setItem(stagedKey, JSON.stringify([...staged]));
    else sessionStorage.removeItem(stagedKey);
    if (!staged.size) return;
    // Closing the tab would lose them: the browser asks first.
    const ask = (e: BeforeUnloadEvent) => e.preventDefault();
    window.addEventListener("beforeunload", ask);
    return () => window.removeEventListener("beforeunload", ask);
  }, [staged, stagedKey]);

  // The sample: fetched for the threshold (debounced while the slider moves) and after each change.
  useEffect(() => {
    if (!n) return;
    const call = ++seq.current;
    const timer = setTimeout(
      () => {
        setLoading(true);
        api.preview(ds, group.name, tag.name, { threshold, view, n, modality }).then(
          (p) => {
            if (call !== seq.current) return;
            setData(p);
            setFetchedAt(threshold);
            setError(null);
            setLoading(false);
          },
          (e) => {
            if (call !== seq.current) return;
            setError(errorText(e));
            setLoading(false);
          },
        );
      },
      data ? 150 : 0,
    );
    return () => clearTimeout(timer);
  }, [ds, group.name, tag.name, threshold, view, modality, refresh, tag.revision, group.version, n]);

  // Until the new sample arrives, the items already shown move sides at once.
  const pool = useMemo(() => {
    const m = new Map<number, Scored>();
    for (const s of [...(data?.positives ?? []), ...(data?.negatives ?? [])]) m.set(s.item_id, s);
    return [...m.values()];
  }, [data]);
  const exact = fetchedAt === threshold;
  const byScore = (a: Scored, b: Scored) => b.score - a.score;
  const positives = exact ? (data?.positives ?? []) : pool.filter((s) => s.score >= threshold).sort(byScore);
  const negatives = exact ? (data?.negatives ?? []) : pool.filter((s) => s.score < threshold).sort(byScore);

  const stage = (ids: number[], p: Polarity) =>
    setStaged((old) => {
      const n = new Map(old);
      for (const id of ids) {
        if (n.get(id) === p && ids.length === 1) n.delete(id);
        else n.set(id, p);
      }
      return n;
    });

  const commitMarks = async () => {
    const pos = [...staged].filter(([, p]) => p === "positive").map(([id]) => id);
    const neg = [...staged].filter(([, p]) => p === "negative").map(([id]) => id);
    try {
      if (pos.length) await api.mark(ds, group.name, tag.name, pos, "positive");
      if (neg.length) await api.mark(ds, group.name, tag.name, neg, "negative");
      toast(`Added ${pos.length} positive and ${neg.length} negative visual prompts`, "ok");
      setStaged(new Map());
      setSelected(new Set());
      await reload();
      setRefresh((r) => r + 1);
    } catch (e) {
      setError(errorText(e));
    }
  };

  const saveThreshold = async () => {
    try {
      await api.saveThreshold(ds, group.name, tag.name, threshold);
      toast(`Threshold ${threshold.toFixed(2)} saved`, "ok");
      await reload();
    } catch (e) {
      setError(errorText(e));
    }
  };

  const publish = async () => {
    try {
      const j = await api.publish(ds, group.name);
      setJob(j);
      const done = await watchJob(j);
      const failed = done.status === "error";
      toast(failed ? `Scoring failed: ${done.error}` : `${group.name} scored`, failed ? "error" : "ok");
      await reload();
      setRefresh((r) => r + 1);
    } catch (e) {
      setError(errorText(e));
    }
  };

  const toggleSel = (id: number) =>
    setSelected((s) => {
      const n = new Set(s);
      if (n.has(id)) n.delete(id);
      else n.add(id);
      return n;
    });

  // A part of a video opens its video's page at its time.
  const atVideo = (s: Scored) =>
    s.video_id ? href("d", ds, "videos", s.video_id, { t: s.start_ms ?? undefined }) : href("items", s.item_id);

  const cueRows = (list: Scored[], side: string) => (
    <ol class="cue-list preview-cues" data-testid={`preview-${side}`} aria-label={side}>
      {list.map((s) => (
        <li key={s.item_id}>
          <a class="cue" href={atVideo(s)} data-testid="preview-cue" data-item-id={s.item_id} data-score={s.score}>
            <span class="cue-time mono">
              {s.start_ms != null ? fmtTime(s.start_ms) : ""}
              {s.end_ms != null ? `–${fmtTime(s.end_ms)}` : ""}
            </span>
            <span class="cue-text">{s.text}</span>
            <span class={`chip ${s.score >= threshold ? "chip-tag" : "chip-muted"} cue-score`}>{fmtScore(s.score, 3)}</span>
          </a>
        </li>
      ))}
      {!list.length && !loading ? <Empty>No {side} at this threshold.</Empty> : null}
    </ol>
  );

  const shotCards = (list: Scored[], side: string) => (
    <div class="thumb-grid preview-grid" data-testid={`preview-${side}`} aria-label={side}>
      {list.map((s) => (
        <Thumb
          key={s.item_id}
          id={s.item_id}
          src={s.thumbnail_url}
          score={s.score}
          testid="preview-item"
          onOpen={() => navigate(atVideo(s))}
          card={
            <div class="text-card" data-testid="text-card" data-modality="shot">
              <span class="text-card-kind">shot</span>
              <span class="text-card-time">
                {fmtTime(s.start_ms ?? 0)}–{fmtTime(s.end_ms ?? 0)}
              </span>
            </div>
          }
        />
      ))}
      {!list.length && !loading ? <Empty>No {side} at this threshold.</Empty> : null}
    </div>
  );

  const cards = (list: Scored[], side: string) =>
    modality === "transcript" ? cueRows(list, side) : modality === "shot" ? shotCards(list, side) : (
    <div class="thumb-grid preview-grid" data-testid={`preview-${side}`} aria-label={side}>
      {list.map((s) => (
        <MarkableThumb
          key={s.item_id}
          item={s}
          staged={staged.get(s.item_id) ?? null}
          existing={(existing.get(s.item_id) as Polarity | undefined) ?? null}
          selected={selected.has(s.item_id)}
          onToggle={() => toggleSel(s.item_id)}
          onMark={mayEdit ? (p) => stage([s.item_id], p) : undefined}
        />
      ))}
      {!list.length && !loading ? <Empty>No {side} at this threshold.</Empty> : null}
    </div>
    );

  const published = group.version > 0;
  const running = Boolean(job && !isFinished(job));
  // Marking examples, thresholds and publishing edit the tag; a viewer only looks.
  const mayEdit = can(A.TAGS_EDIT, ds);
  const denied = whyNot(A.TAGS_EDIT, ds);
  const nPos = [...staged.values()].filter((p) => p === "positive").length;

  return (
    <section class="page preview-page" aria-label={`Preview of ${tag.name}`} data-testid="preview-page">
      <PageHead
        title={<TagCrumbs ds={ds} group={group.name} tag={tag.name} page="preview" />}
        sub={
          <>
            <ScoringChip status={scoring.status} /> <TagCounts tag={tag} />{" "}
            <span class="muted small">
              {data?.stratified ? "stratified sample: 10 per score bucket" : "random sample"}
              {data ? (data.live ? " · live: current definition" : " · published scores") : ""}
            </span>
          </>
        }
      >
        <button
          type="button"
          onClick={() => setDialog("search")}
          data-testid="add-from-search"
          disabled={!mayEdit}
          title={denied}
        >
          Add from search
        </button>
        <button
          type="button"
          onClick={() => setDialog("uncertain")}
          disabled={!published || !mayEdit}
          title={denied ?? (published ? "Items nearest the decision boundary" : "Available after publishing")}
          data-testid="add-from-uncertain"
        >
          Add from uncertain
        </button>
        <a class="button ghost" href={href("d", ds, "tags", group.name, tag.name, "metrics")}>
          Metrics
        </a>
        <button
          type="button"
          class="primary"
          onClick={publish}
          data-testid="publish"
          disabled={running || !mayEdit}
          title={denied}
        >
          {group.state === "draft" ? "Publish group" : "Commit & rescore"}
        </button>
      </PageHead>
      {job || (scoring.job && !isFinished(scoring.job)) ? (
        <JobProgress job={job ?? scoring.job} label="Scoring" />
      ) : null}

      {tabs.length > 1 ? (
        <div class="tabs" role="tablist" aria-label="What to preview" data-testid="preview-tabs">
          {tabs.map(([m, label]) => (
            <button
              key={m}
              type="button"
              role="tab"
              aria-selected={modality === m}
              class={modality === m ? "tab active" : "tab"}
              data-testid={`tab-${m}`}
              onClick={() => chooseTab(m)}
            >
              {label}
            </button>
          ))}
        </div>
      ) : null}
      <div class="preview-controls panel">
        <label class="threshold-control">
          <span>Threshold</span>
          <input
            type="range"
            min={0}
            max={1}
            step={0.01}
            value={threshold}
            aria-label="Threshold"
            data-testid="threshold-slider"
            onInput={(e) => setThreshold(Number((e.target as HTMLInputElement).value))}
          />
          <NumberInput
            value={threshold}
            onCommit={setThreshold}
            aria-label="Threshold value"
            data-testid="threshold-input"
          />
        </label>
        <button
          type="button"
          class="ghost"
          disabled={!mayEdit || Math.abs(threshold - tag.threshold) < 1e-9}
          title={denied}
          onClick={saveThreshold}
          data-testid="save-threshold"
        >
          Save threshold
        </button>
        <span class="muted small">saved θ {tag.threshold.toFixed(2)}</span>
        <div class="spacer" />
        <div class="segmented" role="radiogroup" aria-label="View">
          {(["compare", "positives", "negatives"] as View[]).map((v) => (
            <label key={v} class={view === v ? "on" : ""}>
              <input
                type="radio"
                name="view"
                value={v}
                checked={view === v}
                data-testid={`view-${v}`}
                onChange={() => setView(v)}
              />
              {v}
            </label>
          ))}
        </div>
        <span class="spin-slot">{loading ? <Spinner label="Updating sample" /> : null}</span>
      </div>

      {staged.size || selected.size ? (
        <div class="selection-bar" role="region" aria-label="Marking" data-testid="marking-bar">
          {selected.size ? (
            <>
              <strong>{selected.size} selected</strong>
              <button
                type="button"
                class="pos-btn"
                data-testid="bulk-positive"
                onClick={() => {
                  stage([...selected], "positive");
                  setSelected(new Set());
                }}
              >
                + Mark positive
              </button>
              <button
                type="button"
                class="neg-btn"
                data-testid="bulk-negative"
                onClick={() => {
                  stage([...selected], "negative");
                  setSelected(new Set());
                }}
              >
                − Mark negative
              </button>
              <button type="button" class="ghost" onClick={() => setSelected(new Set())}>
                Clear selection
              </button>
            </>
          ) : null}
          <div class="spacer" />
          {staged.size ? (
            <>
              <span data-testid="staged-count">
                {nPos} positive, {staged.size - nPos} negative staged
              </span>
              <button type="button" class="ghost" onClick={() => setStaged(new Map())}>
                Discard
              </button>
              <button
                type="button"
                class="primary"
                onClick={commitMarks}
                data-testid="add-visual-prompts"
                disabled={!mayEdit}
                title={denied}
              >
                Add visual prompts
              </button>
            </>
          ) : null}
        </div>
      ) : null}

      <Prompts ds={ds} group={group} tag={tag} editable={mayEdit} compact onChange={() => void reload()} />
      <ErrorBox error={error} testid="preview-error" />
      <div class="preview-main">
        <div class={`preview-cols ${view}`}>
          {view !== "negatives" ? (
            <section class="col" aria-label="Positives">
              <header class="col-head">
                <h2>
                  Positives <span class="muted">≥ {threshold.toFixed(2)}</span>
                  {exact && data?.n_positive != null ? (
                    <span class="muted small" data-testid="n-positive">
                      {" "}
                      · {data.n_positive.toLocaleString("en-US")} items
                    </span>
                  ) : null}
                </h2>
                {modality === "visual" ? (
                  <button
                    type="button"
                    class="link small"
                    onClick={() => setSelected(new Set(positives.map((s) => s.item_id)))}
                  >
                    select all
                  </button>
                ) : null}
              </header>
              {data ? cards(positives, "positives") : error ? null : <Spinner />}
            </section>
          ) : null}
          {view !== "positives" ? (
            <section class="col" aria-label="Negatives">
              <header class="col-head">
                <h2>
                  Negatives <span class="muted">&lt; {threshold.toFixed(2)}</span>
                  {exact && data?.n_negative != null ? (
                    <span class="muted small" data-testid="n-negative">
                      {" "}
                      · {data.n_negative.toLocaleString("en-US")} items
                    </span>
                  ) : null}
                </h2>
                {modality === "visual" ? (
                  <button
                    type="button"
                    class="link small"
                    onClick={() => setSelected(new Set(negatives.map((s) => s.item_id)))}
                  >
                    select all
                  </button>
                ) : null}
              </header>
              {data ? cards(negatives, "negatives") : error ? null : <Spinner />}
            </section>
          ) : null}
        </div>
      </div>

      <AddFromDialog
        kind={dialog}
        ds={ds}
        group={group}
        tag={tag}
        onClose={() => setDialog(null)}
        onAdded={async () => {
          setDialog(null);
          await reload();
          setRefresh((r) => r + 1);
        }}
      />
    </section>
  );
}

function MarkableThumb({
  item,
  staged,
  existing,
  selected,
  onToggle,
  onMark,
}: {
  item: Scored;
  staged: Polarity | null;
  existing: Polarity | null;
  selected: boolean;
  onToggle?: () => void;
  /** Absent: no marking (a role that cannot edit the tag). */
  onMark?: (p: Polarity) => void;
}) {
  const mark = staged ?? existing;
  return (
    <Thumb
      id={item.item_id}
      src={item.thumbnail_url}
      score={item.score}
      selected={selected}
      onToggle={onToggle}
      testid="preview-item"
      badge={
        mark ? (
          <span class={`mark-badge ${mark}${staged ? " staged" : ""}`} data-testid="mark-badge">
            {mark === "positive" ? "+" : "−"}
            {staged ? "" : " example"}
          </span>
        ) : null
      }
    >
      <div class="mark-buttons">
        {onMark ? (
          <>
        <button
          type="button"
          class={`pos-btn small${staged === "positive" ? " on" : ""}`}
          aria-label={`Mark item ${item.item_id} positive`}
          aria-pressed={staged === "positive"}
          data-testid="mark-positive"
          onClick={() => onMark("positive")}
        >
          +
        </button>
        <button
          type="button"
          class={`neg-btn small${staged === "negative" ? " on" : ""}`}
          aria-label={`Mark item ${item.item_id} negative`}
          aria-pressed={staged === "negative"}
          data-testid="mark-negative"
          onClick={() => onMark("negative")}
        >
          −
        </button>
          </>
        ) : null}
        <span class="mono small">{fmtScore(item.score, 3)}</span>
      </div>
    </Thumb>
  );
}

function AddFromDialog({
  kind,
  ds,
  group,
  tag,
  onClose,
  onAdded,
}: {
  kind: "search" | "uncertain" | null;
  ds: string;
  group: TagGroup;
  tag: Tag;
  onClose: () => void;
  onAdded: () => void;
}) {
  const [text, setText] = useState("");
  const [items, setItems] = useState<Scored[] | null>(null);
  const [marks, setMarks] = useState<Map<number, Polarity>>(new Map());
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const config = useConfig();

  useEffect(() => {
    setItems(null);
    setMarks(new Map());
    setError(null);
    if (kind === "uncertain" && config) {
      api.uncertain(ds, group.name, tag.name, config.preview_size).then(setItems, (e) => setError(errorText(e)));
    }
    if (kind === "search") setText(tag.prompts.find((p) => p.polarity === "positive")?.text ?? tag.name);
  }, [kind, config]);

  const search = async (e?: Event) => {
    e?.preventDefault();
    setBusy(true);
    try {
      const hits = await api.searchText(ds, text, { space: group.space });
      setItems(hits.map((h) => ({ item_id: h.item_id, score: h.score, thumbnail_url: h.thumbnail_url })));
      setError(null);
    } catch (err) {
      setError(errorText(err));
    } finally {
      setBusy(false);
    }
  };

  const add = async () => {
    setBusy(true);
    try {
      for (const p of ["positive", "negative"] as const) {
        const ids = [...marks].filter(([, x]) => x === p).map(([id]) => id);
        if (ids.length) await api.mark(ds, group.name, tag.name, ids, p);
      }
      toast(`Added ${marks.size} visual prompts`, "ok");
      onAdded();
    } catch (e) {
      setError(errorText(e));
    } finally {
      setBusy(false);
    }
  };

  const toggle = (id: number, p: Polarity) =>
    setMarks((m) => {
      const n = new Map(m);
      if (n.get(id) === p) n.delete(id);
      else n.set(id, p);
      return n;
    });

  return (
    <Dialog
      open={kind !== null}
      onClose={onClose}
      title={kind === "uncertain" ? "Add from uncertain items" : "Add from search"}
      testid={`dialog-${kind ?? "none"}`}
    >
      <div class="dialog-body wide">
        {kind === "search" ? (
          <form class="query-bar" onSubmit={search} role="search">
            <input
              type="search"
              value={text}
              aria-label="Search for examples"
              data-testid="example-search-input"
              onInput={(e) => setText((e.target as HTMLInputElement).value)}
            />
            <button type="submit" class="primary" disabled={busy || !text.trim()}>
              Search
            </button>
          </form>
        ) : (
          <p class="muted small">The items the tag is least sure of, made diverse: labelling them helps most.</p>
        )}
        <ErrorBox error={error} />
        {items === null && kind === "uncertain" && !error ? <Spinner /> : null}
        {items && !items.length ? <Empty>No items.</Empty> : null}
        {items?.length ? (
          <div class="thumb-grid small" data-testid="dialog-items">
            {items.map((s) => (
              <MarkableThumb
                key={s.item_id}
                item={s}
                staged={marks.get(s.item_id) ?? null}
                existing={(tag.examples.find((e) => e.item_id === s.item_id)?.polarity as Polarity) ?? null}
                selected={false}
                onMark={(p) => toggle(s.item_id, p)}
              />
            ))}
          </div>
        ) : null}
        <footer class="dialog-foot">
          <span class="muted">{marks.size} marked</span>
          <button type="button" class="ghost" onClick={onClose}>
            Cancel
          </button>
          <button type="button" class="primary" disabled={!marks.size || busy} onClick={add} data-testid="dialog-add">
            Add {marks.size} visual prompts
          </button>
        </footer>
      </div>
    </Dialog>
  );
}

function readStaged(key: string): Map<number, Polarity> {
  try {
    const saved = JSON.parse(sessionStorage.getItem(key) ?? "[]") as [number, Polarity][];
    return new Map(saved.filter(([id, p]) => Number.isInteger(id) && (p === "positive" || p === "negative")));
  } catch {
    return new Map();
  }
}
