// Models (F-80, F-82): a dataset's classifiers and detectors, the form that trains one, and the
// learning curves of a training run, live (the model polled every second) with a Stop button.
import { useEffect, useRef, useState } from "preact/hooks";
import {
  api,
  ApiError,
  errorText,
  MODEL_KINDS,
  type DatasetInfo,
  type EpochRow,
  type Model,
  type ModelKind,
  type TrainModel,
} from "../api";
import { A, can, whyNot } from "../auth";
import { Chip, Empty, ErrorBox, Field, PageHead, Spinner, fmtScore } from "../components/ui";
import { watchJob } from "../jobs";
import { href } from "../router";
import { toast } from "../store";

const POLL_MS = 1000;

/** A model's headline figure: accuracy for single-label, else mAP (null before it has one). */
export function modelScore(m: Model): { name: string; value: number | null } {
  const v = (k: string) => (typeof m.metrics[k] === "number" ? (m.metrics[k] as number) : null);
  if (m.kind === "single-label") return { name: "accuracy", value: v("accuracy") ?? v("map") };
  return { name: "mAP", value: v("map") };
}

export function fmtWhen(iso: string | null | undefined): string {
  if (!iso) return "–";
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? iso : d.toLocaleString("en-GB", { dateStyle: "short", timeStyle: "short" });
}

export function StatusChip({ status }: { status: Model["status"] }) {
  const kind = status === "ready" ? "pos" : status === "failed" ? "neg" : "state";
  return (
    <Chip kind={kind}>
      <span data-testid="model-status">{status}</span>
    </Chip>
  );
}

/** The model, fetched again every second while it trains (its history grows epoch by epoch). */
export function useLiveModel(ds: string, name: string | null): [Model | null, string | null, (m: Model) => void] {
  const [model, setModel] = useState<Model | null>(null);
  const [error, setError] = useState<string | null>(null);
  useEffect(() => {
    setModel(null);
    setError(null);
    if (!name) return;
    let alive = true;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const tick = () =>
      api.model(ds, name).then(
        (m) => {
          if (!alive) return;
          setModel(m);
          setError(null);
          if (m.status === "training") timer = setTimeout(tick, POLL_MS);
        },
        (e) => {
          if (!alive) return;
          setError(errorText(e));
          // The server unreachable or failing for a moment: ask again (not after a 404).
          if (e instanceof ApiError && (e.status === 0 || e.status >= 500)) timer = setTimeout(tick, POLL_MS * 3);
        },
      );
    void tick();
    return () => {
      alive = false;
      clearTimeout(timer);
    };
  }, [ds, name]);
  return [model, error, setModel];
}

export function ModelsPage({ ds }: { ds: string }) {
  const [models, setModels] = useState<Model[] | null>(null);
  const [info, setInfo] = useState<DatasetInfo | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [watching, setWatching] = useState<string | null>(null);

  const reload = () =>
    api.models(ds).then(
      (list) => {
        setModels(list);
        setError(null);
      },
      (e) => setError(errorText(e)),
    );
  useEffect(() => {
    void reload();
    api.dataset(ds).then(setInfo, (e) => setError(errorText(e)));
  }, [ds]);
  // A model already training (started elsewhere) shows its curves too.
  useEffect(() => {
    if (!watching) setWatching(models?.find((m) => m.status === "training")?.name ?? null);
  }, [models]);

  return (
    <section class="page models-page" aria-label="Models" data-testid="models-page">
      <PageHead
        title="Models"
        sub="Classifiers and detectors trained on the dataset's labels: statistics, thresholds and predictions"
      />
      <ErrorBox error={error} testid="models-error" />
      <div class="two-col">
        <div>
          {watching ? (
            <WatchedRun key={watching} ds={ds} name={watching} onChange={() => void reload()} />
          ) : null}
          <div class="panel">
            <h2>Models of {ds}</h2>
            {models === null && !error ? <Spinner /> : null}
            {models && !models.length ? (
              <Empty>No model yet: train one with the form.</Empty>
            ) : null}
            {models?.length ? <ModelTable ds={ds} models={models} onWatch={setWatching} /> : null}
          </div>
        </div>
        <div>
          <TrainForm
            ds={ds}
            info={info}
            taken={(models ?? []).map((m) => m.name)}
            onStarted={(m) => {
              setModels((list) => [m, ...(list ?? []).filter((x) => x.name !== m.name)]);
              setWatching(m.name);
            }}
          />
        </div>
      </div>
    </section>
  );
}

function ModelTable({ ds, models, onWatch }: { ds: string; models: Model[]; onWatch: (name: string) => void }) {
  return (
    <div class="table-wrap">
      <table class="results-table" data-testid="models-table">
        <thead>
          <tr>
            <th>Name</th>
            <th>Kind</th>
            <th>Space</th>
            <th>Status</th>
            <th>Classes</th>
            <th>mAP / accuracy</th>
            <th>Updated</th>
          </tr>
        </thead>
        <tbody>
          {models.map((m) => {
            const score = modelScore(m);
            return (
              <tr key={m.name} data-testid="model-row" data-model={m.name} data-status={m.status}>
                <td>
                  <a href={href("d", ds, "models", m.name)} data-testid="model-link">
                    {m.name}
                  </a>
                </td>
                <td>{m.kind}</td>
                <td>{m.space ?? <span class="muted">pixels</span>}</td>
                <td>
                  <StatusChip status={m.status} />
                  {m.status === "training" ? (
                    <button type="button" class="ghost small" onClick={() => onWatch(m.name)}>
                      curves
                    </button>
                  ) : null}
                </td>
                <td class="num" title={m.classes.join(", ")}>
                  {m.classes.length}
                </td>
                <td class="num" title={score.name}>
                  {fmtScore(score.value)}
                </td>
                <td>{fmtWhen(m.updated_at)}</td>
              </tr>
            );
          })}
        </tbody>
      </table>
    </div>
  );
}

/** Blank: the server's default. */
function numberOrUndefined(v: string): number | undefined {
  return v.trim() === "" || !Number.isFinite(Number(v)) ? undefined : Number(v);
}

function TrainForm({
  ds,
  info,
  taken,
  onStarted,
}: {
  ds: string;
  info: DatasetInfo | null;
  taken: string[];
  onStarted: (m: Model) => void;
}) {
  const spaces = (info?.spaces ?? []).filter((s) => s.n_vectors > 0);
  const [name, setName] = useState("");
  const [kind, setKind] = useState<ModelKind>("multi-label");
  const [space, setSpace] = useState("");
  const [validation, setValidation] = useState<"fraction" | "split">("fraction");
  const [percent, setPercent] = useState("20");
  const [lr, setLr] = useState("");
  const [timeLimit, setTimeLimit] = useState("");
  const [patience, setPatience] = useState("");
  const [maxEpochs, setMaxEpochs] = useState("");
  const [hidden, setHidden] = useState("0");
  const [background, setBackground] = useState(false);
  const [fineTune, setFineTune] = useState(false);
  const [size, setSize] = useState<"small" | "medium" | "large">("small");
  const [where, setWhere] = useState("");
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  useEffect(() => {
    if (!space && info) setSpace(info.default_space ?? spaces[0]?.name ?? "");
  }, [info]);
  const detector = kind === "detector";
  const replacing = taken.includes(name.trim());
  const clipSpace = spaces.find((s) => s.name === space)?.kind === "clip";

  const submit = async (e: Event) => {
    e.preventDefault();
    setError(null);
    const body: TrainModel = {
      name: name.trim(),
      kind,
      validation: validation === "split" ? "split" : Number(percent) / 100,
      learning_rate: numberOrUndefined(lr),
      time_limit: numberOrUndefined(timeLimit),
      patience: numberOrUndefined(patience),
      max_epochs: numberOrUndefined(maxEpochs),
      where: where.trim() || undefined,
      restart: replacing || undefined,
    };
    if (detector) body.size = size;
    else {
      body.space = space;
      body.hidden = numberOrUndefined(hidden) ?? 0;
      if (kind === "single-label") body.background = background;
      if (clipSpace && fineTune) body.fine_tune = true;
    }
    setBusy(true);
    try {
      const { model, job } = await api.trainModel(ds, body);
      if (job) void watchJob(job);
      toast(`Training ${model.name}…`, "info");
      onStarted(model);
    } catch (err) {
      setError(errorText(err));
    } finally {
      setBusy(false);
    }
  };

  return (
    <form class="panel train-form" onSubmit={submit} aria-label="Train a model" data-testid="train-form">
      <h2>Train a model</h2>
      <Field label="Name" hint={replacing ? "A model of this name exists: training replaces it." : undefined}>
        <input
          type="text"
          required
          value={name}
          placeholder="e.g. animals"
          aria-label="Model name"
          data-testid="train-name"
          onInput={(e) => setName((e.target as HTMLInputElement).value)}
        />
      </Field>
      <Field label="Kind">
        <select
          value={kind}
          aria-label="Kind"
          data-testid="train-kind"
          onChange={(e) => setKind((e.target as HTMLSelectElement).value as ModelKind)}
        >
          {MODEL_KINDS.map((k) => (
            <option key={k} value={k}>
              {k}
            </option>
          ))}
        </select>
      </Field>
      {detector ? (
        <Field label="Size" hint="Learns on the pixels and the boxes of the items">
          <select
            value={size}
            aria-label="Size"
            data-testid="train-size"
            onChange={(e) => setSize((e.target as HTMLSelectElement).value as typeof size)}
          >
            {(["small", "medium", "large"] as const).map((s) => (
              <option key={s} value={s}>
                {s}
              </option>
            ))}
          </select>
        </Field>
      ) : (
        <>
          <Field label="Embedding space" hint="The head learns on the items' vectors in this space">
            <select
              value={space}
              aria-label="Embedding space"
              data-testid="train-space"
              onChange={(e) => setSpace((e.target as HTMLSelectElement).value)}
            >
              {spaces.map((s) => (
                <option key={s.name} value={s.name}>
                  {s.name} ({s.kind}, {s.n_vectors} vectors)
                </option>
              ))}
            </select>
          </Field>
          <Field label="Hidden units" hint="0: a linear head; more: a small MLP">
            <input
              type="number"
              min={0}
              step={1}
              value={hidden}
              aria-label="Hidden units"
              data-testid="train-hidden"
              onInput={(e) => setHidden((e.target as HTMLInputElement).value)}
            />
          </Field>
          {kind === "single-label" ? (
            <label class="inline">
              <input
                type="checkbox"
                checked={background}
                data-testid="train-background"
                onChange={(e) => setBackground((e.target as HTMLInputElement).checked)}
              />
              Background images: items without a label are a class of their own
            </label>
          ) : null}
          {clipSpace ? (
            <label class="inline">
              <input
                type="checkbox"
                checked={fineTune}
                data-testid="train-fine-tune"
                onChange={(e) => setFineTune((e.target as HTMLInputElement).checked)}
              />
              Fine-tune the image tower with the head (slow without a GPU)
            </label>
          ) : null}
        </>
      )}
      <fieldset class="train-validation">
        <legend class="field-label">Validation</legend>
        <label class="inline">
          <input
            type="radio"
            name="validation"
            checked={validation === "fraction"}
            data-testid="validation-fraction"
            onChange={() => setValidation("fraction")}
          />
          A random, stratified
          <input
            type="number"
            class="num"
            min={1}
            max={90}
            step={1}
            value={percent}
            disabled={validation !== "fraction"}
            aria-label="Validation percentage"
            data-testid="validation-percent"
            onInput={(e) => setPercent((e.target as HTMLInputElement).value)}
          />
          % of the items
        </label>
        <label class="inline">
          <input
            type="radio"
            name="validation"
            checked={validation === "split"}
            data-testid="validation-split"
            onChange={() => setValidation("split")}
          />
          Use the validation set (items whose split is validation)
        </label>
      </fieldset>
      <div class="train-numbers">
        <Field label="Learning rate">
          <input
            type="number"
            min={0}
            step="any"
            value={lr}
            placeholder="default"
            aria-label="Learning rate"
            data-testid="train-lr"
            onInput={(e) => setLr((e.target as HTMLInputElement).value)}
          />
        </Field>
        <Field label="Time limit (s)">
          <input
            type="number"
            min={1}
            step="any"
            value={timeLimit}
            placeholder="default"
            aria-label="Time limit in seconds"
            data-testid="train-time-limit"
            onInput={(e) => setTimeLimit((e.target as HTMLInputElement).value)}
          />
        </Field>
        <Field label="Patience (epochs)">
          <input
            type="number"
            min={1}
            step={1}
            value={patience}
            placeholder="default"
            aria-label="Patience"
            data-testid="train-patience"
            onInput={(e) => setPatience((e.target as HTMLInputElement).value)}
          />
        </Field>
        <Field label="Max epochs">
          <input
            type="number"
            min={1}
            step={1}
            value={maxEpochs}
            placeholder="default"
            aria-label="Max epochs"
            data-testid="train-max-epochs"
            onInput={(e) => setMaxEpochs((e.target as HTMLInputElement).value)}
          />
        </Field>
      </div>
      <Field label="Items (SQL filter, optional)" hint="Train on the labelled items matching it; blank: all">
        <input
          type="text"
          class="mono"
          value={where}
          placeholder="e.g. width > 300"
          aria-label="Items filter"
          data-testid="train-where"
          onInput={(e) => setWhere((e.target as HTMLInputElement).value)}
        />
      </Field>
      <ErrorBox error={error} testid="train-error" />
      <button
        type="submit"
        class="primary wide"
        disabled={busy || !name.trim() || (!detector && !space) || !can(A.MODELS_TRAIN, ds)}
        title={whyNot(A.MODELS_TRAIN, ds)}
        data-testid="train-submit"
      >
        {busy ? "Starting…" : replacing ? "Train again" : "Train"}
      </button>
    </form>
  );
}

/** The curves of the run being watched on this page, live; the list reloads once it ends. */
function WatchedRun({ ds, name, onChange }: { ds: string; name: string; onChange: () => void }) {
  const [model, error, setModel] = useLiveModel(ds, name);
  const status = useRef<string | null>(null);
  useEffect(() => {
    // The list shows the new status (and figures) once the run ends.
    if (model && status.current === "training" && model.status !== "training") onChange();
    status.current = model?.status ?? null;
  }, [model?.status]);
  if (!model) return error ? <ErrorBox error={error} /> : <Spinner />;
  return <TrainingPanel ds={ds} model={model} onModel={setModel} link />;
}

/** A run's learning curves and, while it trains, its Stop button. */
export function TrainingPanel({
  ds,
  model,
  onModel,
  link = false,
}: {
  ds: string;
  model: Model;
  onModel: (m: Model) => void;
  /** Name it with a link to its page (on the list of models). */
  link?: boolean;
}) {
  const [stopping, setStopping] = useState(false);
  const name = model.name;
  const stop = async () => {
    setStopping(true);
    try {
      onModel(await api.stopModel(ds, name));
      toast(`Stopping ${name}: it keeps its best epoch`, "info");
    } catch (e) {
      toast(errorText(e), "error");
    } finally {
      setStopping(false);
    }
  };
  return (
    <div class="panel" data-testid="training-panel" data-model={name} data-status={model.status}>
      <div class="panel-head">
        <h2>
          {link ? <a href={href("d", ds, "models", name)}>{name}</a> : "Training"} <StatusChip status={model.status} />
        </h2>
        {model.status === "training" ? (
          <button
            type="button"
            class="danger"
            onClick={stop}
            disabled={stopping || !can(A.MODELS_TRAIN, ds)}
            title={whyNot(A.MODELS_TRAIN, ds) ?? "End training now, keeping the best epoch so far"}
            data-testid="stop-training"
          >
            {stopping ? "Stopping…" : "Stop"}
          </button>
        ) : link && model.status === "ready" ? (
          <a class="button ghost" href={href("d", ds, "models", name)} data-testid="open-model">
            Statistics →
          </a>
        ) : null}
      </div>
      <ErrorBox error={model.error} testid="model-error" />
      <RunSummary model={model} />
      <LearningCurves model={model} />
    </div>
  );
}

const STOP_REASONS: Record<string, string> = {
  early_stopping: "stopped early (validation loss no better)",
  time_limit: "stopped at the time limit",
  max_epochs: "ran its maximum epochs",
  stopped: "stopped by hand",
};

export function RunSummary({ model }: { model: Model }) {
  const m = model.metrics;
  const parts: string[] = [];
  if (model.history.length) parts.push(`${model.history.length} epochs`);
  if (typeof m.best_epoch === "number") parts.push(`best epoch ${m.best_epoch}`);
  if (typeof m.stop_reason === "string") parts.push(STOP_REASONS[m.stop_reason] ?? m.stop_reason);
  if (typeof m.n_train === "number")
    parts.push(`${m.n_train} train / ${m.n_validation ?? m.n_val ?? 0} validation items`);
  // {class: its number of examples}
  const skipped = Object.entries((m.skipped_classes ?? {}) as Record<string, number>).map(
    ([c, n]) => `${c} (${n})`,
  );
  return (
    <p class="muted small" data-testid="run-summary">
      {parts.join(" · ") || "waiting for the first epoch…"}
      {skipped.length ? (
        <>
          <br />
          <span class="warn">Too few examples, left out: {skipped.join(", ")}</span>
        </>
      ) : null}
    </p>
  );
}

const SERIES = [
  ["train", "train"],
  ["val", "validation"],
] as const;

/** Loss and metric per epoch, train and validation, side by side. */
export function LearningCurves({ model }: { model: Model }) {
  const h = model.history;
  const metric = model.kind === "single-label" ? "accuracy" : "mAP";
  return (
    <div class="learning-curves" data-testid="learning-curves" data-epochs={h.length}>
      <EpochChart title="Loss" rows={h} field="loss" best={model.metrics.best_epoch as number | undefined} />
      <EpochChart title={metric} rows={h} field="metric" unit best={model.metrics.best_epoch as number | undefined} />
    </div>
  );
}

function EpochChart({
  title,
  rows,
  field,
  unit = false,
  best,
}: {
  title: string;
  rows: EpochRow[];
  field: "loss" | "metric";
  /** Values in [0, 1]: a fixed axis. */
  unit?: boolean;
  best?: number;
}) {
  const W = 340;
  const H = 190;
  const pad = { l: 40, r: 10, t: 22, b: 26 };
  const value = (r: EpochRow, s: "train" | "val") => r[`${s}_${field}`] as number | null;
  const values = rows.flatMap((r) => SERIES.map(([s]) => value(r, s))).filter((v): v is number => v !== null && Number.isFinite(v));
  const top = unit ? 1 : Math.max(1e-6, ...values) * 1.05;
  const n = Math.max(2, rows.length ? rows[rows.length - 1].epoch : 1);
  const first = rows.length ? rows[0].epoch : 1;
  const x = (e: number) => pad.l + ((e - first) / Math.max(1, n - first)) * (W - pad.l - pad.r);
  const y = (v: number) => H - pad.b - (v / top) * (H - pad.t - pad.b);
  const path = (s: "train" | "val") =>
    rows
      .map((r) => [r.epoch, value(r, s)] as const)
      .filter(([, v]) => v !== null && Number.isFinite(v))
      .map(([e, v], i) => `${i ? "L" : "M"}${x(e).toFixed(1)},${y(v as number).toFixed(1)}`)
      .join("");
  const last = rows[rows.length - 1];
  return (
    <figure class="chart-wrap epoch-chart">
      <svg class="chart" viewBox={`0 0 ${W} ${H}`} role="img" aria-label={`${title} per epoch`} data-testid={`curve-${field}`}>
        <text x={pad.l} y={14} class="chart-title">
          {title}
        </text>
        {[0, 0.5, 1].map((f) => (
          <g key={f} class="gridline">
            <line x1={pad.l} x2={W - pad.r} y1={y(f * top)} y2={y(f * top)} />
            <text x={pad.l - 5} y={y(f * top) + 4} text-anchor="end">
              {(f * top).toFixed(top < 0.1 ? 3 : 2)}
            </text>
          </g>
        ))}
        <text x={W - pad.r} y={H - 8} text-anchor="end">
          epoch {last ? last.epoch : "–"}
        </text>
        {best !== undefined && rows.length ? (
          <line class="best-epoch" x1={x(best)} x2={x(best)} y1={pad.t} y2={H - pad.b} />
        ) : null}
        {SERIES.map(([s]) => (
          <path key={s} class={`epoch-curve s-${s}`} d={path(s)} data-testid={`path-${field}-${s}`} />
        ))}
      </svg>
      <figcaption class="legend">
        {SERIES.map(([s, label]) => (
          <span key={s}>
            <span class={`swatch s-${s}`} /> {label}{" "}
            <span class="mono">{last ? fmtScore(value(last, s)) : "–"}</span>
          </span>
        ))}
      </figcaption>
    </figure>
  );
}
