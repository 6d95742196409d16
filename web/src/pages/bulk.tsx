// Bulk classify (F-53): one class (and its question answers) on every item of a collection or of
// the grid's selection. Preview is the server's dry run (what would change, what is skipped and
// why); Apply is the real run, one change-set that the History page can undo.
import { useEffect, useState } from "preact/hooks";
import {
  api,
  errorText,
  type Answer,
  type BulkClassify,
  type BulkResult,
  type OntologyQuestion,
} from "../api";
import { A, can, whyNot } from "../auth";
import { Dialog, ErrorBox, Field, fmtCount } from "../components/ui";
import { href } from "../router";
import { toast } from "../store";

/** What to classify: a collection (by title) or chosen items. */
export type BulkSource = { collection: string } | { item_ids: number[] };

interface Choices {
  classes: string[];
  questions: OntologyQuestion[];
  /** false: the server has no ontology; the classes are the dataset's label names. */
  ontology: boolean;
}

export function BulkClassifyDialog({
  open,
  ds,
  source,
  onClose,
  onApplied,
}: {
  open: boolean;
  ds: string;
  source: BulkSource | null;
  onClose: () => void;
  onApplied?: (r: BulkResult) => void;
}) {
  const [choices, setChoices] = useState<Choices | null>(null);
  const [label, setLabel] = useState("");
  const [answers, setAnswers] = useState<Record<string, Answer>>({});
  const [overwrite, setOverwrite] = useState(false);
  const [preview, setPreview] = useState<{ key: string; result: BulkResult } | null>(null);
  const [applied, setApplied] = useState<BulkResult | null>(null);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);

  useEffect(() => {
    if (!open) return;
    setPreview(null);
    setApplied(null);
    setError(null);
    let alive = true;
    loadChoices(ds).then(
      (c) => alive && setChoices(c),
      (e) => alive && setError(errorText(e)),
    );
    return () => {
      alive = false;
    };
  }, [open, ds]);

  const questions = choices?.questions ?? [];
  const name = label.trim();
  const answered = Object.fromEntries(
    Object.entries(answers).filter(([, v]) => (Array.isArray(v) ? v.length > 0 : v.trim() !== "")),
  );
  const missing = questions.filter((q) => q.required && !(q.name in answered)).map((q) => q.name);
  const body = (dry_run: boolean): BulkClassify => ({
    label: name,
    ...(source ?? { item_ids: [] }),
    ...(Object.keys(answered).length ? { answers: answered } : {}),
    overwrite,
    dry_run,
  });
  // A preview counts what these exact choices would do: any edit asks for a new one.
  const key = JSON.stringify(body(true));
  const current = preview?.key === key ? preview.result : null;

  const run = async (dry: boolean) => {
    setBusy(true);
    setError(null);
    try {
      const r = await api.bulkClassify(ds, body(dry));
      if (dry) setPreview({ key, result: r });
      else {
        setApplied(r);
        toast(`${plural(r.n_changed, "item")} classified as ${name}`, "ok");
        onApplied?.(r);
      }
    } catch (e) {
      setError(errorText(e));
    } finally {
      setBusy(false);
    }
  };

  const what =
    source && "collection" in source
      ? `every item of the collection ${source.collection}`
      : `${plural(source?.item_ids.length ?? 0, "selected item")}`;
  const known = choices?.classes.includes(name) ?? true;

  return (
    <Dialog open={open} onClose={onClose} title="Classify" testid="bulk-dialog">
      {applied ? (
        <div class="dialog-body">
          <div class="notice" role="status" data-testid="bulk-applied">
            {applied.change_set !== null
              ? `Classified ${plural(applied.n_changed, "item")} as ${name} (change-set #${applied.change_set}).`
              : `Nothing changed: ${resultText(applied)}.`}
          </div>
          {applied.n_skipped ? <p class="muted small">{skippedText(applied)}</p> : null}
          <footer class="dialog-foot">
            {applied.change_set !== null ? (
              <a class="button ghost" href={href("d", ds, "history")} data-testid="bulk-history" onClick={onClose}>
                See it in History (undo)
              </a>
            ) : null}
            <button type="button" class="primary" onClick={onClose}>
              Done
            </button>
          </footer>
        </div>
      ) : (
        <form
          class="dialog-body"
          onSubmit={(e) => {
            e.preventDefault();
            void run(!current);
          }}
        >
          <p class="muted small" data-testid="bulk-what">
            Gives {what} one classification. Items that have one already are skipped unless you
            overwrite theirs; one change-set records it, undoable on the History page.
          </p>
          <Field
            label="Class"
            hint={
              name && !known
                ? `${name} is a new class${choices?.ontology ? " of the ontology" : ""}.`
                : choices && !choices.ontology
                  ? "The dataset's label names; a new name is a new class."
                  : undefined
            }
          >
            <input
              type="text"
              list="bulk-classes"
              value={label}
              required
              maxLength={256}
              aria-label="Class"
              data-testid="bulk-class"
              onInput={(e) => setLabel((e.target as HTMLInputElement).value)}
            />
            <datalist id="bulk-classes">
              {(choices?.classes ?? []).map((c) => (
                <option key={c} value={c} />
              ))}
            </datalist>
          </Field>
          {questions.map((q) => (
            <QuestionField
              key={q.name}
              q={q}
              value={answers[q.name]}
              onChange={(v) => setAnswers((a) => ({ ...a, [q.name]: v }))}
            />
          ))}
          <label class="check">
            <input
              type="checkbox"
              checked={overwrite}
              data-testid="bulk-overwrite"
              onChange={(e) => setOverwrite((e.target as HTMLInputElement).checked)}
            />
            Overwrite the classification of items that have one
          </label>
          {current ? (
            <div class="bulk-preview" role="status" data-testid="bulk-preview">
              <strong data-testid="bulk-n-changed">{plural(current.n_changed, "item")}</strong> change,{" "}
              <strong data-testid="bulk-n-skipped">{fmtCount(current.n_skipped)}</strong> skipped
              {current.n_skipped ? ` (${reasons(current)})` : ""}.
            </div>
          ) : null}
          <ErrorBox error={error} testid="bulk-error" />
          <footer class="dialog-foot">
            {missing.length ? <span class="muted small">Answer {missing.join(", ")}</span> : null}
            <button type="button" class="ghost" onClick={onClose}>
              Cancel
            </button>
            <button
              type="button"
              data-testid="bulk-preview-run"
              disabled={busy || !name || !source || missing.length > 0}
              onClick={() => run(true)}
            >
              Preview
            </button>
            <button
              type="button"
              class="primary"
              data-testid="bulk-apply"
              disabled={busy || !current || current.n_changed === 0 || !can(A.LABELS_BULK, ds)}
              title={whyNot(A.LABELS_BULK, ds) ?? (current ? undefined : "Preview first: it says what would change")}
              onClick={() => run(false)}
            >
              {busy ? "Working…" : current ? `Apply to ${plural(current.n_changed, "item")}` : "Apply"}
            </button>
          </footer>
        </form>
      )}
    </Dialog>
  );
}

function QuestionField({
  q,
  value,
  onChange,
}: {
  q: OntologyQuestion;
  value: Answer | undefined;
  onChange: (v: Answer) => void;
}) {
  const label = `${q.name}${q.required ? " *" : ""}`;
  if (q.kind === "text")
    return (
      <Field label={label}>
        <input
          type="text"
          value={typeof value === "string" ? value : ""}
          aria-label={q.name}
          data-testid="bulk-answer"
          data-question={q.name}
          onInput={(e) => onChange((e.target as HTMLInputElement).value)}
        />
      </Field>
    );
  const chosen = Array.isArray(value) ? value : value ? [value] : [];
  return (
    <fieldset class="question" data-testid="bulk-answer" data-question={q.name}>
      <legend class="field-label">{label}</legend>
      {q.options.map((o) => (
        <label key={o} class="check">
          <input
            type={q.kind === "radio" ? "radio" : "checkbox"}
            name={`q-${q.name}`}
            value={o}
            checked={chosen.includes(o)}
            onChange={(e) => {
              const on = (e.target as HTMLInputElement).checked;
              if (q.kind === "radio") onChange(o);
              else onChange(on ? [...chosen, o] : chosen.filter((x) => x !== o));
            }}
          />
          {o}
        </label>
      ))}
    </fieldset>
  );
}

async function loadChoices(ds: string): Promise<Choices> {
  const onto = await api.ontology(ds);
  if (onto) return { classes: onto.classes.map((c) => c.name), questions: onto.questions, ontology: true };
  const info = await api.dataset(ds);
  return { classes: Object.keys(info.labels).sort(), questions: [], ontology: false };
}

function plural(n: number, word: string): string {
  return `${fmtCount(n)} ${word}${n === 1 ? "" : "s"}`;
}

function reasons(r: BulkResult): string {
  return Object.entries(r.skipped)
    .map(([why, n]) => `${fmtCount(n)} ${why}`)
    .join(", ");
}

function skippedText(r: BulkResult): string {
  return `${fmtCount(r.n_skipped)} skipped (${reasons(r)}).`;
}

function resultText(r: BulkResult): string {
  return r.n_skipped ? skippedText(r) : "no items";
}
