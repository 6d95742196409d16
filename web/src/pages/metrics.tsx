// Metrics (F-29): F1, F0.5, precision, recall and accuracy over the threshold, the recommended
// threshold marked, a slider and input box updating the values, and save.
import { useEffect, useMemo, useState } from "preact/hooks";
import { api, errorText, METRICS, type MetricName, type Metrics } from "../api";
import { A, can, whyNot } from "../auth";
import { Empty, ErrorBox, NumberInput, PageHead, Spinner, fmtScore } from "../components/ui";
import { href } from "../router";
import { toast } from "../store";
import { TagCrumbs, useTag } from "./tag";

const NAMES: Record<MetricName, string> = {
  f1: "F1",
  f0_5: "F0.5",
  precision: "Precision",
  recall: "Recall",
  accuracy: "Accuracy",
};
const HINTS: Record<MetricName, string> = {
  f1: "balances precision and recall",
  f0_5: "weighs precision more",
  precision: "how many predicted positives are right",
  recall: "how many actual positives are found",
  accuracy: "overall correctness",
};

/** The value of a curve at threshold t (linear between the sampled thresholds). */
export function valueAt(ts: number[], ys: number[], t: number): number {
  if (!ts.length || !ys.length) return NaN;
  if (t <= ts[0]) return ys[0];
  for (let i = 1; i < ts.length; i++) {
    if (t <= ts[i]) {
      const f = (t - ts[i - 1]) / (ts[i] - ts[i - 1] || 1);
      return ys[i - 1] + f * (ys[i] - ys[i - 1]);
    }
  }
  return ys[ys.length - 1];
}

function argmax(ts: number[], ys: number[]): number {
  let best = 0;
  for (let i = 1; i < ys.length; i++) if (ys[i] > ys[best]) best = i;
  return ts[best] ?? 0.5;
}

export function MetricsPage({ ds, group, tag }: { ds: string; group: string; tag: string }) {
  const { group: g, tag: t, error: tagError, reload } = useTag(group, tag);
  const [m, setM] = useState<Metrics | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [metric, setMetric] = useState<MetricName>("f1");
  const [threshold, setThreshold] = useState<number | null>(null);
  const [saving, setSaving] = useState(false);

  useEffect(() => {
    api.metrics(ds, group, tag, metric).then(
      (x) => {
        setM(x);
        setError(null);
      },
      (e) => setError(errorText(e)),
    );
  }, [ds, group, tag, metric]);
  useEffect(() => {
    if (t && threshold === null) setThreshold(t.threshold);
  }, [t]);

  const recommended = useMemo(() => {
    if (!m) return 0.5;
    if (m.recommended.metric === metric) return m.recommended.threshold;
    return argmax(m.thresholds, m.curves[metric]);
  }, [m, metric]);

  if (tagError) return <ErrorBox error={tagError} />;
  if (!g || !t || threshold === null) return <Spinner />;

  const save = async () => {
    setSaving(true);
    try {
      await api.saveThreshold(ds, g.name, t.name, threshold);
      await reload();
      // The user stays here: a threshold is a setting of the published version, nothing to redo.
      toast(`Threshold ${threshold.toFixed(2)} saved for ${t.name}: decisions follow it now`, "ok");
    } catch (e) {
      setError(errorText(e));
    } finally {
      setSaving(false);
    }
  };

  const hasData = m && m.thresholds.length > 0;

  return (
    <section class="page metrics-page" aria-label={`Metrics of ${t.name}`} data-testid="metrics-page">
      <PageHead
        title={<TagCrumbs ds={ds} group={g.name} tag={t.name} page="metrics" />}
        sub={
          m ? (
            <>
              Ground truth: {m.n_positive} positive, {m.n_negative} negative items (reviews and matching labels)
            </>
          ) : null
        }
      >
        <a class="button ghost" href={href("d", ds, "tags", g.name, t.name, "truth")} data-testid="to-truth">
          Ground truth
        </a>
        <a class="button ghost" href={href("d", ds, "tags", g.name, t.name, "preview")}>
          Back to preview
        </a>
      </PageHead>
      <ErrorBox error={error} testid="metrics-error" />
      {!m && !error ? <Spinner /> : null}
      {m && !hasData ? (
        <Empty>
          No ground truth yet: review items of this tag, ask the LLM judge on the{" "}
          <a href={href("d", ds, "tags", g.name, t.name, "truth")}>ground truth</a> page, or give the dataset
          labels that match it.
        </Empty>
      ) : null}
      {m && hasData ? (
        <>
          <div class="segmented metric-pick" role="radiogroup" aria-label="Metric to optimise">
            {METRICS.map((k) => (
              <label key={k} class={metric === k ? "on" : ""} title={HINTS[k]}>
                <input
                  type="radio"
                  name="metric"
                  value={k}
                  checked={metric === k}
                  data-testid={`metric-${k}`}
                  onChange={() => setMetric(k)}
                />
                {NAMES[k]}
              </label>
            ))}
          </div>
          <div class="metrics-layout">
            <div class="panel">
              <MetricsChart m={m} metric={metric} recommended={recommended} threshold={threshold} onPick={setThreshold} />
              <div class="threshold-control">
                <span>Threshold</span>
                <input
                  type="range"
                  min={0}
                  max={1}
                  step={0.01}
                  value={threshold}
                  aria-label="Threshold"
                  data-testid="metrics-slider"
                  onInput={(e) => setThreshold(Number((e.target as HTMLInputElement).value))}
                />
                <NumberInput
                  value={threshold}
                  onCommit={setThreshold}
                  aria-label="Threshold value"
                  data-testid="metrics-input"
                />
                <button type="button" class="ghost" onClick={() => setThreshold(Number(recommended.toFixed(2)))} data-testid="use-recommended">
                  Use recommended ({recommended.toFixed(2)})
                </button>
              </div>
            </div>
            <aside class="panel values" aria-label="Values at the threshold">
              <h2>
                At θ = <span data-testid="metrics-threshold">{threshold.toFixed(2)}</span>
              </h2>
              <table class="metric-values">
                <tbody>
                  {METRICS.map((k) => (
                    <tr key={k} class={k === metric ? "chosen" : ""}>
                      <th>
                        <span class={`swatch m-${k}`} /> {NAMES[k]}
                      </th>
                      <td class="mono" data-testid={`value-${k}`}>
                        {fmtScore(valueAt(m.thresholds, m.curves[k], threshold))}
                      </td>
                    </tr>
                  ))}
                </tbody>
              </table>
              <p class="muted small">
                Recommended for {NAMES[metric]}: <b data-testid="recommended">{recommended.toFixed(2)}</b>
                <br />
                Saved: <b data-testid="saved-threshold">{t.threshold.toFixed(2)}</b>
              </p>
              <button
                type="button"
                class="primary wide"
                onClick={save}
                disabled={
                  saving || threshold.toFixed(2) === t.threshold.toFixed(2) || !can(A.TAGS_EDIT, ds)
                }
                title={whyNot(A.TAGS_EDIT, ds)}
                data-testid="save-threshold"
              >
                {saving ? "Saving…" : "Save threshold"}
              </button>
              <a
                class="button ghost wide"
                href={href("d", ds, "tags", g.name, t.name, "preview", { threshold: threshold.toFixed(2) })}
                data-testid="preview-at-threshold"
              >
                Preview at {threshold.toFixed(2)}
              </a>
            </aside>
          </div>
        </>
      ) : null}
    </section>
  );
}

function MetricsChart({
  m,
  metric,
  recommended,
  threshold,
  onPick,
}: {
  m: Metrics;
  metric: MetricName;
  recommended: number;
  threshold: number;
  onPick: (t: number) => void;
}) {
  const W = 680;
  const H = 320;
  const pad = { l: 40, r: 12, t: 12, b: 30 };
  const x = (v: number) => pad.l + v * (W - pad.l - pad.r);
  const y = (v: number) => H - pad.b - v * (H - pad.t - pad.b);
  const path = (ys: number[]) =>
    m.thresholds
      .map((t, i) => (Number.isFinite(ys[i]) ? `${i ? "L" : "M"}${x(t).toFixed(1)},${y(ys[i]).toFixed(1)}` : ""))
      .join("");
  const pick = (e: MouseEvent) => {
    const svg = e.currentTarget as SVGSVGElement;
    const r = svg.getBoundingClientRect();
    const vx = ((e.clientX - r.left) / r.width) * W;
    const v = (vx - pad.l) / (W - pad.l - pad.r);
    onPick(Math.round(Math.min(1, Math.max(0, v)) * 100) / 100);
  };
  return (
    <figure class="chart-wrap">
      <svg class="chart metrics" viewBox={`0 0 ${W} ${H}`} role="img" aria-label="Metric curves over the threshold" data-testid="metrics-chart" onClick={pick}>
        {[0, 0.25, 0.5, 0.75, 1].map((v) => (
          <g key={v} class="gridline">
            <line x1={pad.l} x2={W - pad.r} y1={y(v)} y2={y(v)} />
            <text x={pad.l - 6} y={y(v) + 4} text-anchor="end">
              {v.toFixed(2)}
            </text>
            <text x={x(v)} y={H - 10} text-anchor="middle">
              {v.toFixed(2)}
            </text>
          </g>
        ))}
        {METRICS.map((k) => (
          <path key={k} class={`curve m-${k}${k === metric ? " chosen" : ""}`} d={path(m.curves[k])} />
        ))}
        <g class="recommended" data-testid="recommended-line">
          <line x1={x(recommended)} x2={x(recommended)} y1={pad.t} y2={H - pad.b} />
          <text x={x(recommended) + 4} y={pad.t + 12}>
            recommended {recommended.toFixed(2)}
          </text>
        </g>
        <g class="cursor">
          <line x1={x(threshold)} x2={x(threshold)} y1={pad.t} y2={H - pad.b} />
        </g>
      </svg>
      <figcaption class="legend">
        {METRICS.map((k) => (
          <span key={k} class={k === metric ? "chosen" : ""}>
            <span class={`swatch m-${k}`} /> {NAMES[k]}
          </span>
        ))}
      </figcaption>
    </figure>
  );
}
