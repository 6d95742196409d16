// Small building blocks shared by the pages.
import type { ComponentChildren, JSX } from "preact";
import { useEffect, useRef, useState } from "preact/hooks";
import type { Job } from "../api";
import { jobs, isFinished } from "../jobs";
import { useStore, toasts } from "../store";

export function ErrorBox({ error, testid = "error" }: { error: string | null; testid?: string }) {
  if (!error) return null;
  return (
    <div class="error-box" role="alert" data-testid={testid}>
      <strong>Error</strong> {error}
    </div>
  );
}

export function Spinner({ label = "Loading" }: { label?: string }) {
  return <span class="spinner" role="status" aria-label={label} />;
}

export function Empty({ children }: { children: ComponentChildren }) {
  return <div class="empty">{children}</div>;
}

export function Chip({
  children,
  kind = "label",
  title,
}: {
  children: ComponentChildren;
  kind?: "label" | "tag" | "pos" | "neg" | "muted" | "state" | "collection";
  title?: string;
}) {
  return (
    <span class={`chip chip-${kind}`} title={title}>
      {children}
    </span>
  );
}

export function fmtScore(s: number | null | undefined, digits = 3): string {
  return s === null || s === undefined || Number.isNaN(s) ? "–" : s.toFixed(digits);
}

export function fmtCount(n: number): string {
  return n.toLocaleString("en-US");
}

export function JobProgress({ job, label }: { job: Job | null | undefined; label?: string }) {
  const all = useStore(jobs);
  if (!job) return null;
  const j = all[job.id] ?? job;
  const pct = Math.round((j.progress ?? 0) * 100);
  const finished = isFinished(j);
  return (
    <div
      class={`job job-${j.status}`}
      data-testid="job-progress"
      data-job-id={j.id}
      data-status={j.status}
      aria-label={`${label ?? j.kind} job ${j.status}`}
    >
      <div class="job-head">
        <span class="job-kind">{label ?? j.kind}</span>
        <span class="job-status" data-testid="job-status">
          {j.status}
          {!finished && j.n_total ? ` · ${j.n_done}/${j.n_total}` : ""}
        </span>
      </div>
      <div
        class="bar"
        role="progressbar"
        aria-valuemin={0}
        aria-valuemax={100}
        aria-valuenow={pct}
        aria-label={`${label ?? j.kind} progress`}
      >
        <div class="bar-fill" style={{ width: `${finished && j.status !== "error" ? 100 : pct}%` }} />
      </div>
      {j.error ? <div class="job-error">{j.error}</div> : null}
    </div>
  );
}

/** Every job the app is tracking, bottom right, on every page. */
export function JobTray() {
  const all = useStore(jobs);
  const list = Object.values(all)
    .filter((j) => !isFinished(j) || Date.now() - (seen.get(j.id) ?? Date.now()) < 6000)
    .sort((a, b) => b.id - a.id)
    .slice(0, 4);
  for (const j of list) if (isFinished(j) && !seen.has(j.id)) seen.set(j.id, Date.now());
  useEffect(() => {
    if (!list.some(isFinished)) return;
    const t = setTimeout(() => jobs.set((x) => ({ ...x })), 6500);
    return () => clearTimeout(t);
  });
  if (!list.length) return null;
  return (
    <aside class="job-tray" aria-label="Running jobs" data-testid="job-tray">
      {list.map((j) => (
        <JobProgress key={j.id} job={j} />
      ))}
    </aside>
  );
}
const seen = new Map<number, number>();

export function Toasts() {
  const list = useStore(toasts);
  return (
    <div class="toasts" aria-live="polite">
      {list.map((t) => (
        <div key={t.id} class={`toast toast-${t.kind}`} role={t.kind === "error" ? "alert" : "status"}>
          {t.text}
        </div>
      ))}
    </div>
  );
}

export function Dialog({
  open,
  onClose,
  title,
  children,
  testid,
}: {
  open: boolean;
  onClose: () => void;
  title: string;
  children: ComponentChildren;
  testid?: string;
}) {
  const ref = useRef<HTMLDialogElement>(null);
  useEffect(() => {
    const d = ref.current;
    if (!d) return;
    if (open && !d.open) d.showModal();
    if (!open && d.open) d.close();
  }, [open]);
  return (
    <dialog ref={ref} class="dialog" onClose={onClose} aria-label={title} data-testid={testid}>
      <header class="dialog-head">
        <h2>{title}</h2>
        <button class="icon-btn" type="button" aria-label="Close" onClick={onClose}>
          ×
        </button>
      </header>
      {open ? children : null}
    </dialog>
  );
}

export function PageHead({
  title,
  sub,
  children,
}: {
  title: ComponentChildren;
  sub?: ComponentChildren;
  children?: ComponentChildren;
}) {
  return (
    <header class="page-head">
      <div>
        <h1>{title}</h1>
        {sub ? <p class="sub">{sub}</p> : null}
      </div>
      <div class="actions">{children}</div>
    </header>
  );
}

export function Field({
  label,
  children,
  hint,
}: {
  label: string;
  children: ComponentChildren;
  hint?: string;
}) {
  return (
    <label class="field">
      <span class="field-label">{label}</span>
      {children}
      {hint ? <span class="hint">{hint}</span> : null}
    </label>
  );
}

export type Handler<E extends Event> = JSX.TargetedEvent<HTMLInputElement, E>;

/**
 * A number box that keeps what the person types until they commit it (Enter, change, blur), so
 * a re-render from data arriving meanwhile never overwrites a half-typed value.
 */
export function NumberInput({
  value,
  onCommit,
  min = 0,
  max = 1,
  step = 0.01,
  digits = 2,
  ...rest
}: {
  value: number;
  onCommit: (v: number) => void;
  min?: number;
  max?: number;
  step?: number;
  digits?: number;
  "aria-label": string;
  "data-testid"?: string;
}) {
  const [draft, setDraft] = useState<string | null>(null);
  const commit = () => {
    if (draft === null) return;
    const v = Number(draft);
    setDraft(null);
    if (draft.trim() !== "" && Number.isFinite(v)) onCommit(Math.min(max, Math.max(min, v)));
  };
  return (
    <input
      type="number"
      class="num"
      min={min}
      max={max}
      step={step}
      value={draft ?? value.toFixed(digits)}
      onInput={(e) => setDraft((e.target as HTMLInputElement).value)}
      onChange={commit}
      onBlur={commit}
      onKeyDown={(e) => {
        if (e.key === "Enter") commit();
        if (e.key === "Escape") setDraft(null);
      }}
      {...rest}
    />
  );
}
