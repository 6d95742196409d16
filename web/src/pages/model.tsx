// A model (F-81, F-83): its learning curves, its statistics on the validation or train items (a
// precision-recall curve per class with the threshold draggable on it and saved, the F1-optimal
// point, AP, accuracy and a confusion matrix), its predictions on the items (wrong ones only, by
// class), predictions of uploaded images, and the dialog that predicts the grid's selection.
import { useEffect, useMemo, useRef, useState } from "preact/hooks";
import {
  api,
  errorText,
  thumbnailUrl,
  type ClassCurve,
  type ImagePrediction,
  type Model,
  type ModelStatistics,
  type PredictedBox,
  type PredictionPage,
  type PredictionResult,
} from "../api";
import { A, can, whyNot } from "../auth";
import { Chip, Dialog, Empty, ErrorBox, NumberInput, PageHead, Spinner, fmtCount, fmtScore } from "../components/ui";
import { href } from "../router";
import { toast } from "../store";
import { valueAt } from "./metrics";
import { StatusChip, TrainingPanel, fmtWhen, modelScore, useLiveModel } from "./models";

type Subset = "validation" | "train";
const SUBSETS: Subset[] = ["validation", "train"];
const PAGE = 50;

export function ModelPage({ ds, name }: { ds: string; name: string }) {
  const [model, error, setModel] = useLiveModel(ds, name);
  if (error && !model) return <ErrorBox error={error} testid="model-load-error" />;
  if (!model) return <Spinner />;
  const score = modelScore(model);
  return (
    <section class="page model-page" aria-label={`Model ${name}`} data-testid="model-page" data-status={model.status}>
      <PageHead
        title={
          <>
            <a class="crumb" href={href("d", ds, "models")}>
              Models
            </a>{" "}
            / {name}
          </>
        }
        sub={
          <>
            {model.kind} · {model.space ? `space ${model.space}` : "pixels"} · {model.classes.length} classes ·{" "}
            {score.name} <b data-testid="model-score">{fmtScore(score.value)}</b> · updated {fmtWhen(model.updated_at)}
          </>
        }
      >
        <StatusChip status={model.status} />
      </PageHead>
      <TrainingPanel ds={ds} model={model} onModel={setModel} />
      {model.status === "ready" ? (
        <>
          <StatisticsPanel ds={ds} model={model} onModel={setModel} />
          <PredictionsBrowser ds={ds} model={model} />
          <PredictUpload ds={ds} model={model} />
        </>
      ) : null}
    </section>
  );
}

// -- statistics ---------------------------------------------------------------------------------

function sameThresholds(a: Record<string, number>, b: Record<string, number>): boolean {
  const keys = Object.keys(b);
  return keys.length > 0 && keys.every((k) => Math.abs((a[k] ?? NaN) - b[k]) < 1e-9);
}

/** A class's true examples in the statistics (items of classifiers, boxes of detectors). */
function positives(s: ModelStatistics, c: string): number {
  return s.per_class[c]?.n_positive ?? s.per_class[c]?.n_truth ?? 0;
}

function StatisticsPanel({ ds, model, onModel }: { ds: string; model: Model; onModel: (m: Model) => void }) {
  const [subset, setSubset] = useState<Subset>("validation");
  const [stats, setStats] = useState<ModelStatistics | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [cls, setCls] = useState<string>(model.classes[0] ?? "");
  const [picked, setPicked] = useState(false);
  const savedOptimized = sameThresholds(model.thresholds, model.optimized_thresholds);
  const [optimized, setOptimized] = useState(savedOptimized);
  const [draft, setDraft] = useState<Record<string, number>>(model.thresholds);
  const [saving, setSaving] = useState(false);

  useEffect(() => {
    setStats(null);
    api.modelStatistics(ds, model.name, subset).then(
      (s) => {
        setStats(s);
        setError(null);
        // First shown: the class with the most positives (the most telling curve).
        if (!picked) {
          const most = s.classes.reduce<string | null>(
            (a, c) => (a === null || positives(s, c) > positives(s, a) ? c : a),
            null,
          );
          if (most) setCls(most);
        }
      },
      (e) => setError(errorText(e)),
    );
    // Not again when thresholds are saved: the curves do not depend on them.
  }, [ds, model.name, subset]);

  const shown = optimized ? model.optimized_thresholds : draft;
  const threshold = shown[cls] ?? 0.5;
  const dirty = optimized ? !savedOptimized : !sameThresholds(model.thresholds, draft);
  const pick = (t: number) => {
    // Moving a threshold by hand is an override: the optimized ones no longer apply.
    setDraft({ ...shown, [cls]: t });
    setOptimized(false);
  };
  const save = async () => {
    setSaving(true);
    try {
      const m = await api.setModelThresholds(ds, model.name, optimized ? null : draft);
      onModel(m);
      setDraft(m.thresholds);
      setOptimized(sameThresholds(m.thresholds, m.optimized_thresholds));
      toast(`Thresholds of ${model.name} saved: predictions follow them now`, "ok");
    } catch (e) {
      setError(errorText(e));
    } finally {
      setSaving(false);
    }
  };

  const per = stats?.per_class[cls];
  return (
    <div class="panel" data-testid="statistics" aria-label="Statistics">
      <div class="panel-head">
        <h2>Statistics</h2>
        <Segmented value={subset} options={SUBSETS} onChange={setSubset} label="Items" testid="stats-subset" />
      </div>
      <ErrorBox error={error} testid="stats-error" />
      {!stats && !error ? <Spinner /> : null}
      {stats ? (
        <>
          <p class="stats-summary" data-testid="stats-summary" data-subset={subset}>
            mAP <b data-testid="stats-map">{fmtScore(stats.map)}</b>
            {stats.map50 !== undefined && stats.map50 !== null ? (
              <>
                {" "}
                · mAP@0.5 <b>{fmtScore(stats.map50)}</b>
              </>
            ) : null}
            {stats.accuracy !== undefined && stats.accuracy !== null ? (
              <>
                {" "}
                · accuracy <b data-testid="stats-accuracy">{fmtScore(stats.accuracy)}</b>
              </>
            ) : null}{" "}
            <span class="muted">on the {subset} items</span>
          </p>
          <div class="metrics-layout">
            <div>
              {per?.curve.thresholds.length ? (
                <PRChart
                  curve={per.curve}
                  threshold={threshold}
                  best={per.best_threshold}
                  cls={cls}
                  onPick={can(A.MODELS_TRAIN, ds) ? pick : undefined}
                />
              ) : (
                <Empty>
                  <span data-testid="no-curve">No precision-recall curve of {cls} on these items (no example, or nothing predicted).</span>
                </Empty>
              )}
              <div class="threshold-control">
                <span>Threshold of {cls}</span>
                <NumberInput
                  value={threshold}
                  onCommit={pick}
                  digits={3}
                  step={0.001}
                  aria-label={`Threshold of ${cls}`}
                  data-testid="threshold-input"
                />
                {per?.curve.thresholds.length ? (
                  <span class="muted small" data-testid="at-threshold">
                    precision {fmtScore(valueAt(per.curve.thresholds, per.curve.precision, threshold), 2)} · recall{" "}
                    {fmtScore(valueAt(per.curve.thresholds, per.curve.recall, threshold), 2)} · F1{" "}
                    {fmtScore(valueAt(per.curve.thresholds, per.curve.f1, threshold), 2)}
                  </span>
                ) : null}
              </div>
            </div>
            <aside class="values">
              <label class="inline">
                <input
                  type="checkbox"
                  checked={optimized}
                  data-testid="use-optimized"
                  disabled={!can(A.MODELS_TRAIN, ds)}
                  onChange={(e) => {
                    const on = (e.target as HTMLInputElement).checked;
                    setOptimized(on);
                    if (!on) setDraft(model.optimized_thresholds);
                  }}
                />
                Use optimized thresholds (maximum F1)
              </label>
              <p class="muted small">
                Saved threshold of {cls}: <b data-testid="saved-threshold">{fmtScore(model.thresholds[cls])}</b>
              </p>
              <button
                type="button"
                class="primary wide"
                disabled={saving || !dirty || !can(A.MODELS_TRAIN, ds)}
                title={whyNot(A.MODELS_TRAIN, ds)}
                onClick={save}
                data-testid="save-thresholds"
              >
                {saving ? "Saving…" : "Save thresholds"}
              </button>
            </aside>
          </div>
          <ClassTable
            stats={stats}
            thresholds={shown}
            selected={cls}
            onSelect={(c) => {
              setCls(c);
              setPicked(true);
            }}
          />
          {stats.confusion_matrix?.length ? <ConfusionMatrix classes={stats.classes} matrix={stats.confusion_matrix} /> : null}
        </>
      ) : null}
    </div>
  );
}

function Segmented<T extends string>({
  value,
  options,
  onChange,
  label,
  testid,
}: {
  value: T;
  options: readonly T[];
  onChange: (v: T) => void;
  label: string;
  testid: string;
}) {
  return (
    <div class="segmented" role="radiogroup" aria-label={label} data-testid={testid}>
      {options.map((o) => (
        <label key={o} class={value === o ? "on" : ""}>
          <input type="radio" name={testid} value={o} checked={value === o} onChange={() => onChange(o)} />
          {o}
        </label>
      ))}
    </div>
  );
}

/**
 * Precision over recall, one point per threshold. The threshold is a handle on the curve: dragged,
 * it snaps to the nearest point of the curve. The F1-optimal point is ringed, dashed.
 */
function PRChart({
  curve,
  threshold,
  best,
  cls,
  onPick,
}: {
  curve: ClassCurve;
  threshold: number;
  best: number;
  cls: string;
  onPick?: (t: number) => void;
}) {
  const W = 520;
  const H = 360;
  const pad = { l: 44, r: 14, t: 14, b: 36 };
  const x = (r: number) => pad.l + r * (W - pad.l - pad.r);
  const y = (p: number) => H - pad.b - p * (H - pad.t - pad.b);
  const dragging = useRef(false);
  const pts = curve.thresholds.map((t, i) => ({ t, r: curve.recall[i], p: curve.precision[i] }));
  const d = pts
    .filter((q) => Number.isFinite(q.r) && Number.isFinite(q.p))
    .map((q, i) => `${i ? "L" : "M"}${x(q.r).toFixed(1)},${y(q.p).toFixed(1)}`)
    .join("");
  const at = (t: number) => ({
    r: valueAt(curve.thresholds, curve.recall, t),
    p: valueAt(curve.thresholds, curve.precision, t),
  });
  const cur = at(threshold);
  const opt = at(best);
  const nearest = (e: PointerEvent) => {
    const svg = (e.currentTarget as SVGSVGElement).getBoundingClientRect();
    const px = ((e.clientX - svg.left) / svg.width) * W;
    const py = ((e.clientY - svg.top) / svg.height) * H;
    let bestI = 0;
    let bestD = Infinity;
    pts.forEach((q, i) => {
      const dd = (x(q.r) - px) ** 2 + (y(q.p) - py) ** 2;
      if (dd < bestD) [bestI, bestD] = [i, dd];
    });
    return pts[bestI]?.t;
  };
  const move = (e: PointerEvent) => {
    if (!dragging.current || !onPick) return;
    const t = nearest(e);
    if (t !== undefined && Math.abs(t - threshold) > 1e-12) onPick(t);
  };
  return (
    <figure class="chart-wrap">
      <svg
        class={`chart pr-chart${onPick ? " draggable" : ""}`}
        viewBox={`0 0 ${W} ${H}`}
        role="img"
        aria-label={`Precision-recall curve of ${cls}`}
        data-testid="pr-chart"
        data-class={cls}
        data-threshold={threshold}
        onPointerDown={(e) => {
          if (!onPick) return;
          dragging.current = true;
          (e.currentTarget as SVGSVGElement).setPointerCapture(e.pointerId);
          move(e as unknown as PointerEvent);
        }}
        onPointerMove={(e) => move(e as unknown as PointerEvent)}
        onPointerUp={() => (dragging.current = false)}
        onPointerCancel={() => (dragging.current = false)}
      >
        {[0, 0.25, 0.5, 0.75, 1].map((v) => (
          <g key={v} class="gridline">
            <line x1={pad.l} x2={W - pad.r} y1={y(v)} y2={y(v)} />
            <text x={pad.l - 6} y={y(v) + 4} text-anchor="end">
              {v.toFixed(2)}
            </text>
            <text x={x(v)} y={H - pad.b + 16} text-anchor="middle">
              {v.toFixed(2)}
            </text>
          </g>
        ))}
        <text x={(pad.l + W - pad.r) / 2} y={H - 4} text-anchor="middle" class="axis-title">
          recall
        </text>
        <text x={12} y={(pad.t + H - pad.b) / 2} text-anchor="middle" class="axis-title" transform={`rotate(-90 12 ${(pad.t + H - pad.b) / 2})`}>
          precision
        </text>
        <path class="pr-curve" d={d} />
        {Number.isFinite(opt.r) ? (
          <g class="f1-best" data-testid="f1-best" data-threshold={best}>
            <line x1={x(opt.r)} x2={x(opt.r)} y1={y(opt.p)} y2={H - pad.b} />
            <line x1={pad.l} x2={x(opt.r)} y1={y(opt.p)} y2={y(opt.p)} />
            <circle cx={x(opt.r)} cy={y(opt.p)} r={9} />
            {/* On the side with room for it. */}
            <text
              x={opt.r > 0.6 ? x(opt.r) - 12 : x(opt.r) + 12}
              y={y(opt.p) - 10}
              text-anchor={opt.r > 0.6 ? "end" : "start"}
            >
              max F1 at {best.toFixed(3)}
            </text>
          </g>
        ) : null}
        {Number.isFinite(cur.r) ? (
          <g class="pr-handle" data-testid="threshold-handle">
            <circle cx={x(cur.r)} cy={y(cur.p)} r={7} />
            <text
              x={cur.r > 0.3 ? x(cur.r) - 10 : x(cur.r) + 10}
              y={y(cur.p) + 22}
              text-anchor={cur.r > 0.3 ? "end" : "start"}
            >
              θ {threshold.toFixed(3)}
            </text>
          </g>
        ) : null}
      </svg>
    </figure>
  );
}

function ClassTable({
  stats,
  thresholds,
  selected,
  onSelect,
}: {
  stats: ModelStatistics;
  thresholds: Record<string, number>;
  selected: string;
  onSelect: (c: string) => void;
}) {
  const detector = stats.classes.some((c) => stats.per_class[c]?.ap50 !== undefined);
  return (
    <div class="table-wrap">
      <table class="results-table" data-testid="class-table">
        <thead>
          <tr>
            <th>Class</th>
            <th>AP</th>
            {detector ? <th>AP@0.5</th> : null}
            <th>{detector ? "True boxes" : "Positives"}</th>
            <th>Threshold</th>
            <th>Max-F1 threshold</th>
          </tr>
        </thead>
        <tbody>
          {stats.classes.map((c) => {
            const s = stats.per_class[c];
            return (
              <tr
                key={c}
                class={`clickable${c === selected ? " chosen" : ""}`}
                data-testid="class-row"
                data-class={c}
                aria-selected={c === selected}
                onClick={() => onSelect(c)}
              >
                <td>
                  <button type="button" class="link" onClick={() => onSelect(c)}>
                    {c}
                  </button>
                </td>
                <td class="num" data-testid="class-ap">
                  {fmtScore(s?.ap)}
                </td>
                {detector ? <td class="num">{fmtScore(s?.ap50)}</td> : null}
                <td class="num">{s ? positives(stats, c) : "–"}</td>
                <td class="num" data-testid="class-threshold">
                  {fmtScore(thresholds[c])}
                </td>
                <td class="num">{fmtScore(s?.best_threshold)}</td>
              </tr>
            );
          })}
        </tbody>
      </table>
    </div>
  );
}

function ConfusionMatrix({ classes, matrix }: { classes: string[]; matrix: number[][] }) {
  const max = Math.max(1, ...matrix.flat());
  return (
    <div class="table-wrap confusion" data-testid="confusion-matrix">
      <table class="results-table">
        <thead>
          <tr>
            <th class="muted">truth ↓ / predicted →</th>
            {classes.map((c) => (
              <th key={c}>{c}</th>
            ))}
          </tr>
        </thead>
        <tbody>
          {matrix.map((row, i) => (
            <tr key={classes[i]}>
              <th>{classes[i]}</th>
              {row.map((n, j) => (
                <td
                  key={j}
                  class={`num${i === j ? " diag" : ""}`}
                  style={{ "--share": `${Math.round((n / max) * 100)}%` }}
                  data-testid="confusion-cell"
                >
                  {n}
                </td>
              ))}
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

// -- predictions on the items -------------------------------------------------------------------

function topScores(scores: Record<string, number> | null, n = 3): [string, number][] {
  return Object.entries(scores ?? {})
    .sort((a, b) => b[1] - a[1])
    .slice(0, n);
}

function PredictedChips({ predicted, truth }: { predicted: string[]; truth?: string[] }) {
  if (!predicted.length) return <span class="muted">none</span>;
  return (
    <span class="chips">
      {predicted.map((p) => (
        <Chip key={p} kind={truth ? (truth.includes(p) ? "pos" : "neg") : "tag"}>
          {p}
        </Chip>
      ))}
    </span>
  );
}

function PredictionsBrowser({ ds, model }: { ds: string; model: Model }) {
  const [subset, setSubset] = useState<Subset>("validation");
  const [wrong, setWrong] = useState(false);
  const [cls, setCls] = useState("");
  const [offset, setOffset] = useState(0);
  /** The page, with the filters it answers (shown only once it has come). */
  const [page, setPage] = useState<(PredictionPage & { key: string }) | null>(null);
  const [error, setError] = useState<string | null>(null);
  const key = `${subset}|${wrong}|${cls}|${model.version}`;
  useEffect(() => setOffset(0), [key]);
  useEffect(() => {
    let alive = true;
    setPage(null);
    api
      .modelPredictions(ds, model.name, { subset, wrong, class_name: cls || undefined, offset, limit: PAGE })
      .then(
        (p) => {
          if (!alive) return;
          setPage({ ...p, key });
          setError(null);
        },
        (e) => alive && setError(errorText(e)),
      );
    return () => {
      alive = false;
    };
  }, [key, offset]);

  return (
    <div class="panel" data-testid="predictions" aria-label="Predictions">
      <div class="panel-head">
        <h2>Predictions</h2>
        <div class="prediction-filters">
          <Segmented value={subset} options={SUBSETS} onChange={setSubset} label="Items" testid="predictions-subset" />
          <label class="inline">
            <input
              type="checkbox"
              checked={wrong}
              data-testid="wrong-only"
              onChange={(e) => setWrong((e.target as HTMLInputElement).checked)}
            />
            Wrong only
          </label>
          <label class="inline">
            <span>Class</span>
            <select
              value={cls}
              aria-label="Class"
              data-testid="predictions-class"
              onChange={(e) => setCls((e.target as HTMLSelectElement).value)}
            >
              <option value="">all</option>
              {model.classes.map((c) => (
                <option key={c} value={c}>
                  {c}
                </option>
              ))}
            </select>
          </label>
        </div>
      </div>
      <ErrorBox error={error} testid="predictions-error" />
      {!page && !error ? <Spinner /> : null}
      {page ? (
        <>
          <p class="muted small">
            <span data-testid="predictions-total" data-key={page.key}>
              {fmtCount(page.total)}
            </span>{" "}
            {subset} items{wrong ? " predicted wrong" : ""}
            {cls ? ` with ${cls} in their truth or prediction` : ""}
            {page.total > PAGE ? ` · ${offset + 1}–${Math.min(page.total, offset + PAGE)}` : ""}
            {page.rows.length ? (
              <>
                {" · "}
                <a
                  href={href("d", ds, "grid", { where: `id IN (${page.rows.map((r) => r.item_id).join(", ")})` })}
                  data-testid="predictions-in-grid"
                >
                  show {page.total > PAGE ? "these" : "them"} in the grid
                </a>
              </>
            ) : null}
          </p>
          {page.rows.length ? (
            <div class="table-wrap">
              <table class="results-table predictions-table">
                <thead>
                  <tr>
                    <th>Item</th>
                    <th>Truth</th>
                    <th>Predicted</th>
                    <th>{model.kind === "detector" ? "Boxes" : "Top scores"}</th>
                  </tr>
                </thead>
                <tbody>
                  {page.rows.map((r) => (
                    <tr
                      key={r.item_id}
                      class={r.wrong ? "wrong" : ""}
                      data-testid="prediction-row"
                      data-item-id={r.item_id}
                      data-wrong={r.wrong}
                    >
                      <td>
                        <a href={href("items", r.item_id)} class="pred-thumb" aria-label={`Open item ${r.item_id}`}>
                          <img src={thumbnailUrl(r.item_id)} alt={`item ${r.item_id}`} loading="lazy" />
                        </a>
                        <span class="mono small">{r.item_id}</span>
                      </td>
                      <td>
                        {r.truth.length ? (
                          <span class="chips">
                            {r.truth.map((t) => (
                              <Chip key={t}>{t}</Chip>
                            ))}
                          </span>
                        ) : (
                          <span class="muted">none</span>
                        )}
                      </td>
                      <td data-testid="row-predicted">
                        <PredictedChips predicted={r.predicted} truth={r.truth} />
                        {r.wrong ? <span class="wrong-mark" title="The prediction differs from the truth">✗</span> : null}
                      </td>
                      <td class="mono small">
                        {r.boxes
                          ? `${r.boxes.length} box${r.boxes.length === 1 ? "" : "es"}`
                          : topScores(r.scores)
                              .map(([c, s]) => `${c} ${s.toFixed(2)}`)
                              .join(" · ")}
                      </td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </div>
          ) : (
            <Empty>No {subset} items{wrong ? " predicted wrong" : ""} here.</Empty>
          )}
          {page.total > PAGE ? (
            <div class="pager">
              <button type="button" class="ghost" disabled={offset === 0} onClick={() => setOffset(Math.max(0, offset - PAGE))}>
                ← Previous
              </button>
              <button
                type="button"
                class="ghost"
                disabled={offset + PAGE >= page.total}
                onClick={() => setOffset(offset + PAGE)}
                data-testid="predictions-next"
              >
                Next →
              </button>
            </div>
          ) : null}
        </>
      ) : null}
    </div>
  );
}

// -- predictions of uploaded images -------------------------------------------------------------

function PredictUpload({ ds, model }: { ds: string; model: Model }) {
  const [files, setFiles] = useState<File[]>([]);
  const [last, setLast] = useState(false);
  const [result, setResult] = useState<PredictionResult | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const urls = useMemo(() => files.map((f) => URL.createObjectURL(f)), [files]);
  useEffect(() => () => urls.forEach((u) => URL.revokeObjectURL(u)), [urls]);
  const run = async (chosen: File[], latest: boolean) => {
    if (!chosen.length) return;
    setBusy(true);
    setError(null);
    setResult(null);
    try {
      setResult(await api.predictImages(ds, model.name, chosen, latest));
    } catch (e) {
      setError(errorText(e));
    } finally {
      setBusy(false);
    }
  };
  return (
    <div class="panel" data-testid="predict-upload" aria-label="Predict an image">
      <div class="panel-head">
        <h2>Predict an image</h2>
        <label class="inline" title="The checkpoint of the last epoch instead of the best one">
          <input
            type="checkbox"
            checked={last}
            data-testid="predict-last"
            onChange={(e) => {
              const on = (e.target as HTMLInputElement).checked;
              setLast(on);
              void run(files, on);
            }}
          />
          Latest checkpoint
        </label>
      </div>
      <label class="dropzone">
        <input
          type="file"
          accept="image/*"
          multiple
          data-testid="predict-file"
          onChange={(e) => {
            const chosen = [...((e.target as HTMLInputElement).files ?? [])];
            setFiles(chosen);
            void run(chosen, last);
          }}
        />
        <span>Choose images to predict with {model.name}</span>
        {busy ? <Spinner label="Predicting" /> : null}
      </label>
      <ErrorBox error={error} testid="predict-error" />
      {result ? (
        <div class="predict-results" data-testid="predict-results" data-checkpoint={result.checkpoint}>
          {result.predictions.map((p, i) => (
            <UploadResult key={i} p={p} url={urls[i]} />
          ))}
        </div>
      ) : null}
    </div>
  );
}

function UploadResult({ p, url }: { p: ImagePrediction; url?: string }) {
  const [size, setSize] = useState<[number, number] | null>(null);
  return (
    <div class="predict-result" data-testid="predict-result" data-file={p.file}>
      {url ? (
        <div class="predict-image">
          <img src={url} alt={p.file ?? "uploaded image"} onLoad={(e) => {
            const img = e.target as HTMLImageElement;
            setSize([img.naturalWidth, img.naturalHeight]);
          }} />
          {p.boxes && size ? <Boxes boxes={p.boxes} size={size} /> : null}
        </div>
      ) : null}
      <div>
        <h3 class="mono small">{p.file}</h3>
        <p>
          Predicted: <span data-testid="predict-predicted"><PredictedChips predicted={p.predicted} /></span>
        </p>
        {p.scores ? <ScoreBars scores={p.scores} /> : null}
        {p.boxes ? (
          <ul class="plain mono small" data-testid="predict-boxes">
            {p.boxes.map((b, i) => (
              <li key={i}>
                {b.class} {b.score.toFixed(3)} at [{b.bbox.map((v) => Math.round(v)).join(", ")}]
              </li>
            ))}
          </ul>
        ) : null}
      </div>
    </div>
  );
}

function ScoreBars({ scores }: { scores: Record<string, number> }) {
  return (
    <table class="score-bars" data-testid="predict-scores">
      <tbody>
        {topScores(scores, 100).map(([c, s]) => (
          <tr key={c} data-class={c} data-score={s}>
            <th>{c}</th>
            <td class="score-cell">
              <span class="minibar">
                <span style={{ width: `${Math.round(s * 100)}%` }} />
              </span>
              <span class="mono">{s.toFixed(3)}</span>
            </td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

function Boxes({ boxes, size }: { boxes: PredictedBox[]; size: [number, number] }) {
  return (
    <svg class="overlay" viewBox={`0 0 ${size[0]} ${size[1]}`} preserveAspectRatio="none" aria-hidden="true">
      {boxes.map((b, i) => (
        <g key={i} class="shape pred-box">
          <rect x={b.bbox[0]} y={b.bbox[1]} width={b.bbox[2]} height={b.bbox[3]} />
          <text x={b.bbox[0] + 4} y={b.bbox[1] + 14}>
            {b.class} {b.score.toFixed(2)}
          </text>
        </g>
      ))}
    </svg>
  );
}

// -- the grid's selection -----------------------------------------------------------------------

/** Predict the selected items with one of the dataset's models; optionally write the predicted
 * classes as labels (source prediction: one change-set, undone on the History page). */
export function PredictSelectionDialog({
  open,
  ds,
  ids,
  onClose,
  onWritten,
}: {
  open: boolean;
  ds: string;
  ids: number[];
  onClose: () => void;
  onWritten: () => void;
}) {
  const [models, setModels] = useState<Model[] | null>(null);
  const [name, setName] = useState("");
  const [write, setWrite] = useState(false);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const [result, setResult] = useState<ImagePrediction[] | null>(null);
  useEffect(() => {
    if (!open) return;
    setResult(null);
    setError(null);
    api.models(ds).then(
      (list) => {
        const ready = list.filter((m) => m.status === "ready");
        setModels(ready);
        if (!ready.some((m) => m.name === name)) setName(ready[0]?.name ?? "");
      },
      (e) => setError(errorText(e)),
    );
  }, [open, ds]);
  const submit = async (e: Event) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      const r = await api.predictItems(ds, name, ids, write);
      setResult(r.predictions);
      if (write) {
        toast(`Predicted labels written to ${ids.length} item(s)${r.change_set ? ` (change-set ${r.change_set})` : ""}`, "ok");
        onWritten();
      }
    } catch (err) {
      setError(errorText(err));
    } finally {
      setBusy(false);
    }
  };
  return (
    <Dialog open={open} onClose={onClose} title="Predict the selection" testid="predict-dialog">
      <form class="dialog-body" onSubmit={submit}>
        {models && !models.length ? (
          <p>
            No trained model on this dataset yet. <a href={href("d", ds, "models")}>Train one</a>.
          </p>
        ) : (
          <>
            <label class="field">
              <span class="field-label">Model</span>
              <select
                value={name}
                aria-label="Model"
                data-testid="predict-model"
                onChange={(e) => setName((e.target as HTMLSelectElement).value)}
              >
                {(models ?? []).map((m) => (
                  <option key={m.name} value={m.name}>
                    {m.name} ({m.kind})
                  </option>
                ))}
              </select>
            </label>
            <label class="inline" title={whyNot(A.LABELS_EDIT, ds)}>
              <input
                type="checkbox"
                checked={write}
                disabled={!can(A.LABELS_EDIT, ds)}
                data-testid="predict-write"
                onChange={(e) => setWrite((e.target as HTMLInputElement).checked)}
              />
              Write the predictions as labels (source: prediction)
            </label>
          </>
        )}
        <ErrorBox error={error} testid="predict-selection-error" />
        {result ? (
          <ul class="plain predict-selection" data-testid="predict-selection-results">
            {result.map((p) => (
              <li key={p.item_id} data-item-id={p.item_id}>
                <img src={thumbnailUrl(p.item_id ?? 0)} alt={`item ${p.item_id}`} />
                <span class="mono small">{p.item_id}</span> <PredictedChips predicted={p.predicted} />
              </li>
            ))}
          </ul>
        ) : null}
        <footer class="dialog-foot">
          <button type="button" class="ghost" onClick={onClose}>
            Close
          </button>
          <button type="submit" class="primary" disabled={busy || !name} data-testid="predict-run">
            {busy ? "Predicting…" : `Predict ${ids.length} item(s)`}
          </button>
        </footer>
      </form>
    </Dialog>
  );
}
