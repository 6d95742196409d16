// History: the dataset's change-sets (who changed what, when, on which items), newest first,
// each with its changes and an Undo that writes the compensating change-set. Filters by user and
// by time (kept in the URL: `?user=alice&since=<ISO 8601>`); an admin can undo all of one user's
// change-sets since a time at once.
import { Fragment, type ComponentChildren } from "preact";
import { useEffect, useState } from "preact/hooks";
import {
  ApiError,
  api,
  errorText,
  thumbnailUrl,
  type Change,
  type ChangeSet,
  type HistoryFilters,
  type UndoUserResult,
} from "../api";
import { A, can, session, whyNot } from "../auth";
import { Thumb } from "../components/thumbs";
import { Dialog, Empty, ErrorBox, PageHead, Spinner, fmtCount } from "../components/ui";
import { href, navigate, useRoute } from "../router";
import { useStore } from "../store";

const PAGE = 100;
const MAX = 1000; // the server's most change-sets per listing
const SHOWN_CHANGES = 60;

/** An undo refused because these items changed since the change-set. */
interface Blocked {
  cs: ChangeSet;
  items: number[];
  message: string;
}

/** Undoing all of one user's change-sets since a time: what a dry run found, then a refusal. */
interface UndoUserStep {
  actor: string;
  since: string;
  plan: UndoUserResult;
  blocked: { items: number[]; message: string } | null;
}

export function HistoryPage({ ds }: { ds: string }) {
  const route = useRoute();
  const actor = route.q.get("user") ?? "";
  const since = validIso(route.q.get("since"));
  const me = useStore(session);
  // No answer from GET /api/auth/me (an older server): the owner, who may do everything.
  const mayUndo = me === undefined || can(A.HISTORY_UNDO, ds);
  const mayUndoUser = me === undefined || can(A.HISTORY_UNDO_USER, ds);
  const [actors, setActors] = useState<string[]>([]);
  const [step, setStep] = useState<UndoUserStep | null>(null);
  const [list, setList] = useState<ChangeSet[] | null>(null);
  const [limit, setLimit] = useState(PAGE);
  const [error, setError] = useState<string | null>(null);
  const [refresh, setRefresh] = useState(0);
  const [open, setOpen] = useState<Set<number>>(new Set());
  const [busy, setBusy] = useState<number | null>(null);
  const [blocked, setBlocked] = useState<Blocked | null>(null);
  const [result, setResult] = useState<string | null>(null);

  useEffect(() => {
    let alive = true;
    const filters: HistoryFilters = { actor: actor || undefined, since: since ?? undefined };
    api.history(ds, limit, filters).then(
      (l) => {
        if (!alive) return;
        setList(l);
        setError(null);
      },
      (e) => alive && setError(errorText(e)),
    );
    return () => {
      alive = false;
    };
  }, [ds, limit, refresh, actor, since]);

  useEffect(() => {
    let alive = true;
    api.historyActors(ds).then(
      (a) => alive && setActors(a),
      () => alive && setActors([]),
    );
    return () => {
      alive = false;
    };
  }, [ds, refresh]);

  const setFilters = (next: { user?: string; since?: string | null }) => {
    const user = next.user ?? actor;
    const when = next.since === undefined ? since : next.since;
    navigate(href("d", ds, "history", { user, since: when }), true);
  };

  /** The dry run first: how many change-sets the undo would write, for the person to confirm. */
  const askUndoUser = async () => {
    if (!actor || !since) return;
    setResult(null);
    try {
      const plan = await api.undoUser(ds, actor, since, { dry_run: true });
      setStep({ actor, since, plan, blocked: null });
    } catch (e) {
      setError(errorText(e));
    }
  };

  const undoUser = async (force: boolean) => {
    if (!step) return;
    setBusy(-1); // no row's: every Undo waits for it
    try {
      const r = await api.undoUser(ds, step.actor, step.since, { force });
      setResult(undoneUserText(step.actor, step.since, r));
      setStep(null);
      setRefresh((x) => x + 1);
    } catch (e) {
      if (e instanceof ApiError && e.status === 409) {
        setStep({ ...step, blocked: { items: e.items, message: e.message } });
      } else {
        setError(errorText(e));
        setStep(null);
      }
    } finally {
      setBusy(null);
    }
  };

  const toggle = (id: number) =>
    setOpen((s) => {
      const next = new Set(s);
      if (!next.delete(id)) next.add(id);
      return next;
    });

  const undo = async (cs: ChangeSet, force: boolean) => {
    setBusy(cs.id);
    setResult(null);
    try {
      const r = await api.undo(ds, cs.id, force);
      setResult(undoneText(cs, r.n_restored, r.skipped));
      setBlocked(null);
      setRefresh((x) => x + 1);
    } catch (e) {
      if (e instanceof ApiError && e.status === 409 && e.items.length) {
        setBlocked({ cs, items: e.items, message: e.message });
      } else {
        setError(errorText(e));
        setBlocked(null);
      }
    } finally {
      setBusy(null);
    }
  };

  return (
    <section class="page history-page" aria-label="History" data-testid="history-page">
      <PageHead
        title="History"
        sub={
          `Every change people made on ${ds} (reviews, tag examples, collections, labels), newest first. Undo writes a new ` +
          "change-set that puts the items back; history is never rewritten."
        }
      />
      <Filters
        actors={actors}
        actor={actor}
        since={since}
        onChange={setFilters}
        undoUser={
          mayUndoUser && actor ? (
            <button
              type="button"
              class="neg-btn"
              data-testid="undo-user"
              disabled={!since || busy !== null}
              title={since ? undefined : "Pick a time in Since first: the undo takes what was changed since then"}
              onClick={askUndoUser}
            >
              ↶ Undo all of {actor}'s changes{since ? ` since ${fmtTime(since)}` : " since …"}
            </button>
          ) : null
        }
      />
      <ErrorBox error={error} testid="history-error" />
      {result ? (
        <div class="notice" role="status" data-testid="undo-result">
          {result}
        </div>
      ) : null}
      {list === null && !error ? <Spinner /> : null}
      {list && !list.length && (actor || since) ? (
        <Empty>
          <h2>No changes match</h2>
          <p>
            {actor ? `${actor} made no change` : "No change was made"}
            {since ? ` since ${fmtTime(since)}` : ""} on {ds}.
          </p>
        </Empty>
      ) : null}
      {list && !list.length && !actor && !since ? (
        <Empty>
          <h2>No changes yet</h2>
          <p>Reviews and examples marked on the tag pages appear here, each with an Undo.</p>
        </Empty>
      ) : null}
      {list && list.length ? (
        <div class="table-wrap history-wrap">
          <table class="results-table history-table" data-testid="history">
            <thead>
              <tr>
                <th aria-label="Expand" />
                <th>#</th>
                <th>When</th>
                <th>Who</th>
                <th>What</th>
                <th class="num">Items</th>
                <th>State</th>
                <th aria-label="Undo" />
              </tr>
            </thead>
            <tbody>
              {list.map((cs) => (
                <Fragment key={cs.id}>
                  <ChangeSetRow
                    cs={cs}
                    open={open.has(cs.id)}
                    busy={busy === cs.id}
                    refusal={mayUndo ? undefined : (whyNot(A.HISTORY_UNDO, ds) ?? "Not allowed")}
                    onToggle={() => toggle(cs.id)}
                    onUndo={() => undo(cs, false)}
                  />
                  {open.has(cs.id) ? <ChangesRow ds={ds} cs={cs} /> : null}
                </Fragment>
              ))}
            </tbody>
          </table>
        </div>
      ) : null}
      {list && list.length >= limit && limit < MAX ? (
        <button
          type="button"
          class="ghost"
          data-testid="history-more"
          onClick={() => setLimit((l) => Math.min(MAX, l + PAGE * 4))}
        >
          Show older changes
        </button>
      ) : null}
      <Dialog
        open={blocked !== null}
        onClose={() => setBlocked(null)}
        title={blocked ? `Undo #${blocked.cs.id}: ${plural(blocked.items.length, "item")} changed since` : "Undo"}
        testid="undo-blocked"
      >
        {blocked ? (
          <div class="dialog-body">
            <p>
              {blocked.items.length === 1 ? "This item was" : "These items were"} changed after #{blocked.cs.id} (
              {describe(blocked.cs)}), so undoing it would overwrite a later edit. Undo the rest puts back the
              other items of #{blocked.cs.id} and leaves{" "}
              {blocked.items.length === 1 ? "this one as it is" : "these as they are"}.
            </p>
            <div class="thumb-grid small" data-testid="blocked-items">
              {blocked.items.map((id) => (
                <Thumb key={id} id={id} src={thumbnailUrl(id)} title={`item ${id}`} testid="blocked-item" eager>
                  <span class="muted small">item {id}</span>
                </Thumb>
              ))}
            </div>
            <footer class="dialog-foot">
              <button type="button" class="ghost" onClick={() => setBlocked(null)}>
                Cancel
              </button>
              <button
                type="button"
                class="primary"
                data-testid="undo-rest"
                disabled={busy !== null}
                onClick={() => undo(blocked.cs, true)}
              >
                Undo the rest
              </button>
            </footer>
          </div>
        ) : null}
      </Dialog>
      <UndoUserDialog
        step={step}
        busy={busy !== null}
        onClose={() => setStep(null)}
        onUndo={undoUser}
      />
    </section>
  );
}

/** The user and time filters, and (for admins, once a user is picked) the undo of all theirs. */
function Filters({
  actors,
  actor,
  since,
  onChange,
  undoUser,
}: {
  actors: string[];
  actor: string;
  since: string | null;
  onChange: (next: { user?: string; since?: string | null }) => void;
  undoUser: ComponentChildren;
}) {
  // The URL's user may have no change-set left to list (or not yet): still offer it.
  const names = actor && !actors.includes(actor) ? [...actors, actor].sort() : actors;
  return (
    <div class="history-filters" data-testid="history-filters">
      <label class="field">
        <span class="field-label">User</span>
        <select
          data-testid="filter-user"
          value={actor}
          onChange={(e) => onChange({ user: (e.target as HTMLSelectElement).value })}
        >
          <option value="">Everyone</option>
          {names.map((a) => (
            <option key={a} value={a}>
              {a}
            </option>
          ))}
        </select>
      </label>
      <label class="field">
        <span class="field-label">Since</span>
        <input
          type="datetime-local"
          data-testid="filter-since"
          value={since ? toLocalInput(since) : ""}
          onChange={(e) => {
            const v = (e.target as HTMLInputElement).value;
            onChange({ since: v ? new Date(v).toISOString() : null });
          }}
        />
      </label>
      {actor || since ? (
        <button type="button" class="ghost" data-testid="filter-clear" onClick={() => onChange({ user: "", since: null })}>
          Clear filters
        </button>
      ) : null}
      <span class="history-filters-gap" />
      {undoUser}
    </div>
  );
}

/** Confirm undoing all of one user's change-sets (how many, which), then any refusal. */
function UndoUserDialog({
  step,
  busy,
  onClose,
  onUndo,
}: {
  step: UndoUserStep | null;
  busy: boolean;
  onClose: () => void;
  onUndo: (force: boolean) => void;
}) {
  const n = step?.plan.undone.length ?? 0;
  const title = !step
    ? "Undo a user's changes"
    : step.blocked
      ? `Undo ${step.actor}'s changes: ${plural(step.blocked.items.length, "item")} changed since by others`
      : `Undo ${plural(n, "change-set")} of ${step.actor}?`;
  return (
    <Dialog open={step !== null} onClose={onClose} title={title} testid="undo-user-dialog">
      {step ? (
        <div class="dialog-body">
          {!step.blocked && n === 0 ? (
            <p data-testid="undo-user-count">
              Nothing to undo: {step.actor} made no change-set on this dataset since {fmtTime(step.since)} that is not
              undone yet.
            </p>
          ) : null}
          {!step.blocked && n > 0 ? (
            <>
              <p data-testid="undo-user-count">
                This undoes <strong>{plural(n, "change-set")}</strong> {step.actor} made since {fmtTime(step.since)}{" "}
                (up to {plural(step.plan.n_restored, "record")}), newest first and all together: if another person
                changed one of those items since, nothing is undone and you are told which.
              </p>
              <p class="muted small">
                Each undo is a new change-set by you; the history keeps everything.{" "}
                {step.plan.undone
                  .slice(0, 30)
                  .map((id) => `#${id}`)
                  .join(", ")}
                {n > 30 ? ", …" : ""}
              </p>
            </>
          ) : null}
          {step.blocked ? (
            <>
              <p data-testid="undo-user-blocked">{step.blocked.message}</p>
              <p class="muted small">
                Undo the rest puts back everything else and leaves{" "}
                {step.blocked.items.length === 1 ? "this item as it is" : "these items as they are"}.
              </p>
              <div class="thumb-grid small" data-testid="blocked-items">
                {step.blocked.items.slice(0, 60).map((id) => (
                  <Thumb key={id} id={id} src={thumbnailUrl(id)} title={`item ${id}`} testid="blocked-item" eager>
                    <span class="muted small">item {id}</span>
                  </Thumb>
                ))}
              </div>
            </>
          ) : null}
          <footer class="dialog-foot">
            <button type="button" class="ghost" onClick={onClose}>
              Cancel
            </button>
            {step.blocked ? (
              <button
                type="button"
                class="primary"
                data-testid="undo-user-force"
                disabled={busy}
                onClick={() => onUndo(true)}
              >
                Undo the rest
              </button>
            ) : n > 0 ? (
              <button
                type="button"
                class="primary"
                data-testid="undo-user-confirm"
                disabled={busy}
                onClick={() => onUndo(false)}
              >
                {busy ? "Undoing…" : `Undo ${plural(n, "change-set")}`}
              </button>
            ) : null}
          </footer>
        </div>
      ) : null}
    </Dialog>
  );
}

function ChangeSetRow({
  cs,
  open,
  busy,
  refusal,
  onToggle,
  onUndo,
}: {
  cs: ChangeSet;
  open: boolean;
  busy: boolean;
  /** Why the caller may not undo (its role), else undefined. */
  refusal?: string;
  onToggle: () => void;
  onUndo: () => void;
}) {
  const when = new Date(cs.created_at);
  return (
    <tr
      class={`history-row${open ? " open" : ""}${cs.undone_by !== null ? " undone" : ""}`}
      data-testid="change-set"
      data-change-id={cs.id}
      data-action={cs.action}
      onClick={(e) => {
        if (!(e.target as HTMLElement).closest("button")) onToggle();
      }}
    >
      <td class="expand-cell">
        <button
          type="button"
          class="icon-btn expand"
          aria-expanded={open}
          aria-label={`${open ? "Hide" : "Show"} the changes of #${cs.id}`}
          data-testid="expand"
          onClick={onToggle}
        >
          {open ? "▾" : "▸"}
        </button>
      </td>
      <td class="mono muted">#{cs.id}</td>
      <td title={when.toLocaleString()}>{fmtWhen(when)}</td>
      <td>{cs.actor}</td>
      <td class="what" data-testid="what" title={describe(cs)}>
        {describe(cs)}
      </td>
      <td class="num">{fmtCount(cs.n_changes)}</td>
      <td data-testid="state">
        {cs.undone_by !== null ? <span class="chip chip-muted">undone by #{cs.undone_by}</span> : null}
        {cs.undoes !== null ? <span class="chip chip-state">undoes #{cs.undoes}</span> : null}
      </td>
      <td class="undo-cell">
        <button
          type="button"
          class="small"
          data-testid="undo"
          disabled={cs.undone_by !== null || busy || refusal !== undefined}
          title={
            refusal ??
            (cs.undone_by !== null ? `Undone already by #${cs.undone_by}` : `Put back what #${cs.id} changed`)
          }
          onClick={onUndo}
        >
          {busy ? "Undoing…" : "↶ Undo"}
        </button>
      </td>
    </tr>
  );
}

function ChangesRow({ ds, cs }: { ds: string; cs: ChangeSet }) {
  const [detail, setDetail] = useState<ChangeSet | null>(null);
  const [error, setError] = useState<string | null>(null);
  useEffect(() => {
    api.changeSet(ds, cs.id).then(setDetail, (e) => setError(errorText(e)));
  }, [ds, cs.id, cs.undone_by]);
  const changes = detail?.changes ?? [];
  return (
    <tr class="history-changes" data-testid="changes">
      <td colSpan={8}>
        <ErrorBox error={error} />
        {!detail && !error ? <Spinner /> : null}
        {Object.keys(cs.params).length ? <p class="muted small params">{paramsText(cs)}</p> : null}
        <div class="change-list">
          {changes.slice(0, SHOWN_CHANGES).map((c) => (
            <div class="change" key={`${c.entity}/${c.key}/${c.item_id}`} data-testid="change" data-item-id={c.item_id}>
              {c.item_id === RECORD_ITSELF ? null : (
                <a href={href("items", c.item_id)} class="change-thumb" aria-label={`Open item ${c.item_id}`}>
                  <img src={thumbnailUrl(c.item_id)} alt={`item ${c.item_id}`} loading="lazy" decoding="async" />
                </a>
              )}
              <div class="change-text">
                <span class="muted small">{c.item_id === RECORD_ITSELF ? `the ${c.entity.replaceAll("_", " ")} itself` : `item ${c.item_id}`}</span>
                <span data-testid="change-text">
                  <span class="before">{stateText(c, c.before, cs)}</span>
                  <span class="arrow"> → </span>
                  <span class="after">{stateText(c, c.after, cs)}</span>
                </span>
              </div>
            </div>
          ))}
        </div>
        {changes.length > SHOWN_CHANGES ? (
          <p class="muted small">and {fmtCount(changes.length - SHOWN_CHANGES)} more item(s)</p>
        ) : null}
      </td>
    </tr>
  );
}

// -- words -------------------------------------------------------------------------------------

/** "Undid #3 (reviewed 2 items for pets / cat): restored 1, left 1 as it is (item 5)." */
function undoneText(cs: ChangeSet, restored: number, skipped: number[]): string {
  const shown = skipped.slice(0, 10).join(", ") + (skipped.length > 10 ? ", …" : "");
  const left = skipped.length
    ? `, left ${fmtCount(skipped.length)} as ${skipped.length === 1 ? "it is (item" : "they are (items"} ${shown})`
    : "";
  return `Undid #${cs.id} (${describe(cs)}): restored ${fmtCount(restored)}${left}.`;
}

/** "Undid 3 change-sets of alice since 1 Dec 2026, 10:00 (#12, #11, #10): restored 12 records." */
function undoneUserText(actor: string, since: string, r: UndoUserResult): string {
  const ids = r.undone
    .slice(0, 10)
    .map((id) => `#${id}`)
    .join(", ");
  const more = r.undone.length > 10 ? ", …" : "";
  const left = r.skipped.length ? `, left ${plural(r.skipped.length, "item")} as changed since` : "";
  if (!r.undone.length) return `Nothing to undo: ${actor} made no change since ${fmtTime(since)}.`;
  return (
    `Undid ${plural(r.undone.length, "change-set")} of ${actor} since ${fmtTime(since)} (${ids}${more}): ` +
    `restored ${plural(r.n_restored, "record")}${left}.`
  );
}

/** A URL's `since` when it is a time, else null (a hand-edited URL). */
function validIso(v: string | null): string | null {
  return v && !Number.isNaN(new Date(v).getTime()) ? v : null;
}

/** An ISO time as the value of a datetime-local input (the browser's time zone). */
function toLocalInput(iso: string): string {
  const d = new Date(iso);
  const p = (n: number) => String(n).padStart(2, "0");
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}T${p(d.getHours())}:${p(d.getMinutes())}`;
}

function fmtTime(iso: string): string {
  return new Date(iso).toLocaleString(undefined, { dateStyle: "medium", timeStyle: "short" });
}

function plural(n: number, word: string): string {
  return `${fmtCount(n)} ${word}${n === 1 ? "" : "s"}`;
}

/** `pets / dog` for a tag, the title of a collection, else its fields. */
function targetText(target: Record<string, unknown>): string {
  if (target.group && target.tag) return `${target.group} / ${target.tag}`;
  if (target.label_job)
    return `the label job ${String(target.label_job)}${target.collection ? ` on ${String(target.collection)}` : ""}`;
  if (typeof target.selection === "number") return `a selection of ${plural(target.selection, "item")}`;
  const title = target.title ?? target.collection ?? target.name;
  if (title) return String(title);
  return Object.entries(target)
    .map(([k, v]) => `${k} ${typeof v === "object" ? JSON.stringify(v) : String(v)}`)
    .join(", ");
}

/** A collection's change-set also records the collection itself: its items are in the params. */
function members(p: Record<string, unknown>, n: string): string {
  return typeof p.n_items === "number" ? plural(p.n_items, "item") : n;
}

/** The item id of a change to a record itself (a collection, a class, a tag), not to an item. */
const RECORD_ITSELF = 0;

const VERBS: Record<string, (n: string, t: string, p: Record<string, unknown>) => string> = {
  review: (n, t) => `reviewed ${n} for ${t}`,
  remove_reviews: (n, t) => `removed the reviews of ${n} for ${t}`,
  judge: (n, t, p) => `the LLM judge${p.model ? ` (${p.model})` : ""} reviewed ${n} for ${t}`,
  mark_examples: (n, t, p) => `marked ${n} as ${p.polarity ? `${p.polarity} ` : ""}examples of ${t}`,
  unmark_examples: (n, t) => `removed ${n} from the examples of ${t}`,
  remove_tag: (_n, t) => `removed the tag ${t}`,
  create_collection: (n, t, p) => `created the collection ${t} (${members(p, n)})`,
  add_to_collection: (n, t, p) => `added ${members(p, n)} to the collection ${t}`,
  remove_from_collection: (n, t, p) => `removed ${members(p, n)} from the collection ${t}`,
  freeze_collection: (n, t, p) => `froze the collection ${t} (${members(p, n)})`,
  delete_collection: (n, t, p) => `deleted the collection ${t} (${members(p, n)})`,
  review_decision: (_n, t, p) =>
    `${p.decision === "pending" ? "moved back to pending" : String(p.decision)} ${plural(Number(p.n_changes ?? 0), "label change")} of ${t}`,
  auto_label_job: (n, t) => `prelabelled ${n} (${t})`,
  split: (n, t, p) =>
    `${p.split ? `put ${n} in the ${String(p.split)} set` : `cleared the split of ${n}`}${t ? ` (${t})` : ""}`,
  bulk_classify: (n, t, p) =>
    `classified ${n} as ${String(p.label ?? p.class ?? "?")}${p.overwrite ? " (overwriting)" : ""}${t ? ` in ${t}` : ""}`,
};

/** A readable sentence of a change-set: "reviewed 3 items for pets / dog". */
export function describe(cs: ChangeSet): string {
  const n = plural(cs.n_changes, "item");
  const t = targetText(cs.target);
  if (cs.action === "undo") {
    const what = typeof cs.params.action === "string" ? ` (${cs.params.action.replaceAll("_", " ")})` : "";
    return `undid #${cs.params.change_set ?? cs.undoes}${what}, restoring ${n}${t ? ` of ${t}` : ""}`;
  }
  const verb = VERBS[cs.action];
  if (verb) return verb(n, t, cs.params);
  return `${cs.action.replaceAll("_", " ")}: ${n}${t ? ` of ${t}` : ""}`;
}

function paramsText(cs: ChangeSet): string {
  return Object.entries(cs.params)
    .map(([k, v]) => `${k.replaceAll("_", " ")}: ${typeof v === "object" ? JSON.stringify(v) : String(v)}`)
    .join(" · ");
}

/** One record in words: "shows dog (LLM)", "positive example", "none". */
function stateText(c: Change, s: Record<string, unknown> | null, cs: ChangeSet): string {
  const tag = typeof cs.target.tag === "string" ? cs.target.tag : "the tag";
  if (c.entity === "review") {
    if (!s) return "not reviewed";
    const by = s.source === "llm" ? " (LLM)" : "";
    return `${s.label ? "shows" : "does not show"} ${tag}${by}`;
  }
  if (c.entity === "example") return s ? `${s.polarity ?? ""} example`.trim() : "not an example";
  if (c.entity === "tag") return s ? tagText(s) : "no such tag";
  if (c.entity === "labels" || c.entity === "annotations" || c.entity === "prelabels") return labelsText(s);
  if (c.entity === "label_review") return reviewText(s);
  if (!s) return "none";
  return Object.entries(s)
    .map(([k, v]) => `${k}: ${typeof v === "object" ? JSON.stringify(v) : String(v)}`)
    .join(", ");
}

/** A tag's whole record in words: "tag cat: 2 prompts, 2 examples, 1 review". */
function tagText(s: Record<string, unknown>): string {
  const n = (key: string, what: string) => {
    const k = Array.isArray(s[key]) ? (s[key] as unknown[]).length : 0;
    return `${k} ${what}${k === 1 ? "" : "s"}`;
  };
  return `tag ${String(s.name)}: ${n("prompts", "prompt")}, ${n("examples", "example")}, ${n("reviews", "review")}`;
}

/** An item's labels in words: "cat (main), dog", "no labels". */
function labelsText(s: Record<string, unknown> | null): string {
  const labels = Array.isArray(s?.labels) ? (s.labels as Record<string, unknown>[]) : [];
  if (!labels.length) return "no labels";
  return labels.map((l) => `${String(l.name)}${l.is_main ? " (main)" : ""}`).join(", ");
}

/** An item's label changes of a job, by status: "2 pending, 1 accepted". */
function reviewText(s: Record<string, unknown> | null): string {
  const n: Record<string, number> = {};
  for (const v of Object.values((s?.status ?? {}) as Record<string, string>)) n[v] = (n[v] ?? 0) + 1;
  const parts = Object.entries(n).map(([status, k]) => `${k} ${status}`);
  return parts.length ? parts.join(", ") : "none";
}

function fmtWhen(d: Date): string {
  const s = (Date.now() - d.getTime()) / 1000;
  if (s < 60) return "just now";
  if (s < 3600) return `${Math.floor(s / 60)} min ago`;
  if (s < 86400) return `${Math.floor(s / 3600)} h ago`;
  return d.toLocaleString(undefined, { dateStyle: "medium", timeStyle: "short" });
}
