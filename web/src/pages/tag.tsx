// Tag detail (seed 000, F-28): positive and negative examples, "continue refining",
// "query tagged items", and the score histogram whose bars open the grid filtered to their range.
import { useEffect, useState } from "preact/hooks";
import { api, errorText, type Histogram, type Tag, type TagGroup } from "../api";
import { A, can } from "../auth";
import { Thumb } from "../components/thumbs";
import { Chip, Empty, ErrorBox, NumberInput, PageHead, Spinner, fmtCount } from "../components/ui";
import { href, navigate } from "../router";
import { toast } from "../store";
import { ScoringChip, TagCounts, tagState, useScoring } from "./tags";
import { Prompts } from "./prompts";

/** The title of a tag's sub-page: Tags / group / tag / page, each part a link but the last. */
export function TagCrumbs({ ds, group, tag, page }: { ds: string; group: string; tag: string; page: string }) {
  return (
    <>
      <a class="crumb" href={href("d", ds, "tags")}>
        Tags
      </a>{" "}
      / <a class="crumb" href={href("d", ds, "tags", group)}>{group}</a> /{" "}
      <a class="crumb" href={href("d", ds, "tags", group, tag)}>{tag}</a> / {page}
    </>
  );
}

export function useTag(group: string, tag: string) {
  const [g, setG] = useState<TagGroup | null>(null);
  const [error, setError] = useState<string | null>(null);
  const reload = () =>
    api.group(group).then(
      (x) => {
        setG(x);
        if (!x.tags.some((t) => t.name === tag)) setError(`no tag ${tag} in group ${group}`);
      },
      (e) => setError(errorText(e)),
    );
  useEffect(() => {
    void reload();
  }, [group, tag]);
  const t = g?.tags.find((x) => x.name === tag) ?? null;
  return { group: g, tag: t, error, reload, setGroup: setG };
}

export function TagPage({ ds, group, tag, q }: { ds: string; group: string; tag: string; q: URLSearchParams }) {
  const { group: g, tag: t, error, reload } = useTag(group, tag);
  const scoring = useScoring(ds, g);
  // The server writes the filter (with the tag's SQL column); the app never derives it.
  const [tagged, setTagged] = useState<string | null>(null);
  if (error) return <ErrorBox error={error} />;
  if (!g || !t) return <Spinner />;
  const st = tagState(g);
  const committed = g.version > 0;
  const editable = g.dataset === ds;
  // Examples and prompts change the tag: only for a role that edits tags.
  const mayEdit = editable && can(A.TAGS_EDIT, ds);
  return (
    <section class="page tag-page" aria-label={`Tag ${t.name}`} data-testid="tag-page">
      <PageHead
        title={
          <>
            <a class="crumb" href={href("d", ds, "tags")}>
              Tags
            </a>{" "}
            /{" "}
            <a class="crumb" href={href("d", ds, "tags", g.name)}>
              {g.name}
            </a>{" "}
            / {t.name}
          </>
        }
        sub={
          <>
            <Chip kind={st.kind}>{st.label}</Chip> <ScoringChip status={scoring.status} />{" "}
            <TagCounts tag={t} />
          </>
        }
      >
        {editable ? (
          <a class="button primary" href={href("d", ds, "tags", g.name, t.name, "preview")} data-testid="continue-refining">
            Continue refining
          </a>
        ) : null}
        <button
          type="button"
          disabled={!committed || !tagged}
          title={committed ? "Open the grid with the items this tag decides positive" : "Publish the group first"}
          data-testid="query-tagged"
          onClick={() => tagged && navigate(href("d", ds, "grid", { where: tagged }))}
        >
          Query tagged items
        </button>
        <a class="button ghost" href={href("d", ds, "tags", g.name, t.name, "metrics")} data-testid="open-metrics">
          Metrics
        </a>
      </PageHead>

      <div class="two-col">
        <div>
          <HistogramPanel
            ds={ds}
            group={g}
            tag={t}
            committed={committed}
            initialMin={Number(q.get("min")) || 0}
            onTagged={setTagged}
          />
          <ExamplesPanel ds={ds} group={g} tag={t} editable={mayEdit} onChange={reload} />
        </div>
        <aside>
          <Prompts ds={ds} group={g} tag={t} editable={mayEdit} onChange={reload} />
        </aside>
      </div>
    </section>
  );
}

function HistogramPanel({
  ds,
  group,
  tag,
  committed,
  initialMin,
  onTagged,
}: {
  ds: string;
  group: TagGroup;
  tag: Tag;
  committed: boolean;
  initialMin: number;
  onTagged: (where: string | null) => void;
}) {
  const [min, setMin] = useState(initialMin);
  const [hist, setHist] = useState<Histogram | null>(null);
  const [error, setError] = useState<string | null>(null);
  useEffect(() => {
    if (!committed) return;
    const t = setTimeout(() => {
      api.histogram(ds, group.name, tag.name, min, 20).then(
        (h) => {
          setHist(h);
          setError(null);
          onTagged(h.where_tagged);
        },
        (e) => setError(errorText(e)),
      );
    }, 120);
    return () => clearTimeout(t);
  }, [ds, group.name, tag.name, min, committed, group.version]);

  return (
    <section class="panel" aria-label="Score histogram" data-testid="histogram-panel">
      <header class="panel-head">
        <h2>Score distribution</h2>
        <label class="inline">
          <span>Min score</span>
          <input
            type="range"
            min={0}
            max={0.95}
            step={0.05}
            value={min}
            aria-label="Histogram minimum score"
            data-testid="hist-min-slider"
            onInput={(e) => setMin(Number((e.target as HTMLInputElement).value))}
          />
          <NumberInput
            value={min}
            max={0.95}
            step={0.05}
            onCommit={setMin}
            aria-label="Histogram minimum score value"
            data-testid="hist-min"
          />
        </label>
      </header>
      {!committed ? (
        <Empty>Publish the group to score every item; the histogram appears once scored.</Empty>
      ) : (
        <>
          <ErrorBox error={error} />
          {hist ? (
            <HistogramChart
              hist={hist}
              threshold={tag.threshold}
              onBar={(b) =>
                navigate(href("d", ds, "grid", { where: b.where }))
              }
            />
          ) : (
            <Spinner />
          )}
          <p class="muted small">
            Click a bar to open the grid filtered to its score range.
            {hist && hist.n_below ? ` ${fmtCount(hist.n_below)} of ${fmtCount(hist.n_items)} items score below ${min.toFixed(2)}.` : ""}
          </p>
        </>
      )}
    </section>
  );
}

export function HistogramChart({
  hist,
  threshold,
  onBar,
}: {
  hist: Histogram;
  threshold: number;
  onBar: (b: Histogram["bins"][number]) => void;
}) {
  const bins = hist.bins;
  if (!bins.length) return <Empty>No scores.</Empty>;
  const W = 640;
  const H = 220;
  const pad = { l: 44, r: 8, t: 10, b: 28 };
  const lo = bins[0].lo;
  const hi = bins[bins.length - 1].hi;
  const max = Math.max(1, ...bins.map((b) => b.count));
  const x = (v: number) => pad.l + ((v - lo) / (hi - lo || 1)) * (W - pad.l - pad.r);
  const y = (c: number) => H - pad.b - (c / max) * (H - pad.t - pad.b);
  const ticks = [0, 0.25, 0.5, 0.75, 1].map((f) => Math.round(max * f));
  return (
    <svg class="chart histogram" viewBox={`0 0 ${W} ${H}`} role="img" aria-label="Histogram of scores" data-testid="histogram">
      {ticks.map((t) => (
        <g key={t} class="gridline">
          <line x1={pad.l} x2={W - pad.r} y1={y(t)} y2={y(t)} />
          <text x={pad.l - 6} y={y(t) + 4} text-anchor="end">
            {fmtCount(t)}
          </text>
        </g>
      ))}
      {bins.map((b, i) => {
        const x0 = x(b.lo) + 1;
        const w = Math.max(1, x(b.hi) - x(b.lo) - 2);
        const above = b.lo >= threshold;
        return (
          <g
            key={i}
            class={`bar-g${above ? " above" : ""}`}
            role="button"
            tabIndex={0}
            aria-label={`Scores ${b.lo.toFixed(2)} to ${b.hi.toFixed(2)}: ${b.count} items`}
            data-testid="hist-bar"
            data-lo={b.lo}
            data-hi={b.hi}
            data-count={b.count}
            onClick={() => onBar(b)}
            onKeyDown={(e) => {
              if (e.key === "Enter" || e.key === " ") onBar(b);
            }}
          >
            <rect class="hit" x={x0} y={pad.t} width={w} height={H - pad.t - pad.b} />
            <rect class="hbar" x={x0} y={y(b.count)} width={w} height={Math.max(0, H - pad.b - y(b.count))} />
            <title>{`${b.lo.toFixed(2)}–${b.hi.toFixed(2)}: ${b.count} items`}</title>
          </g>
        );
      })}
      {threshold >= lo && threshold <= hi ? (
        <g class="threshold">
          <line x1={x(threshold)} x2={x(threshold)} y1={pad.t} y2={H - pad.b} />
          <text x={x(threshold) + 4} y={pad.t + 10}>
            θ {threshold.toFixed(2)}
          </text>
        </g>
      ) : null}
      <g class="axis">
        {[0, 0.25, 0.5, 0.75, 1].map((f) => {
          const v = lo + f * (hi - lo);
          return (
            <text key={f} x={x(v)} y={H - 8} text-anchor="middle">
              {v.toFixed(2)}
            </text>
          );
        })}
      </g>
    </svg>
  );
}

function ExamplesPanel({
  ds,
  group,
  tag,
  editable,
  onChange,
}: {
  ds: string;
  group: TagGroup;
  tag: Tag;
  editable: boolean;
  onChange: () => void;
}) {
  const pos = tag.examples.filter((e) => e.polarity === "positive");
  const neg = tag.examples.filter((e) => e.polarity === "negative");
  const remove = async (id: number) => {
    try {
      await api.unmark(ds, group.name, tag.name, [id]);
      toast("Example removed", "ok");
      onChange();
    } catch (e) {
      toast(errorText(e), "error");
    }
  };
  const section = (title: string, list: typeof pos, testid: string) => (
    <section class="panel" aria-label={title} data-testid={testid}>
      <h2>
        {title} <span class="muted">{list.length}</span>
      </h2>
      {!list.length ? (
        <p class="muted">None yet. {editable ? "Mark items on the preview page, from search, or from the uncertain list." : ""}</p>
      ) : (
        <div class="thumb-grid small">
          {list.map((e) => (
            <Thumb key={e.item_id} id={e.item_id} src={`/api/items/${e.item_id}/thumbnail`} testid="example">
              {editable ? (
                <button type="button" class="link small" aria-label={`Remove example ${e.item_id}`} onClick={() => remove(e.item_id)}>
                  remove
                </button>
              ) : null}
            </Thumb>
          ))}
        </div>
      )}
    </section>
  );
  return (
    <>
      {section("Positive examples", pos, "positive-examples")}
      {section("Negative examples", neg, "negative-examples")}
    </>
  );
}
