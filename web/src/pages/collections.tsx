// Collections (F-52): the dataset's static (a list of items) and dynamic (a saved filter)
// collections; a row opens the grid of its items, a dynamic one can be frozen, any deleted.
import { useEffect, useState } from "preact/hooks";
import { api, errorText, type Collection, type NewCollection } from "../api";
import { A, can, whyNot } from "../auth";
import { Dialog, Empty, ErrorBox, Field, PageHead, Spinner, fmtCount } from "../components/ui";
import { href, navigate } from "../router";
import { toast } from "../store";
import { BulkClassifyDialog } from "./bulk";

export function CollectionsPage({ ds }: { ds: string }) {
  const [list, setList] = useState<Collection[] | null>(null);
  const [counts, setCounts] = useState<Record<string, number | string>>({});
  const [error, setError] = useState<string | null>(null);
  const [refresh, setRefresh] = useState(0);
  const [busy, setBusy] = useState<string | null>(null);
  const [deleting, setDeleting] = useState<Collection | null>(null);
  const [classifying, setClassifying] = useState<Collection | null>(null);

  useEffect(() => {
    let alive = true;
    api.collections(ds).then(
      (l) => {
        if (!alive) return;
        setList(l);
        setError(null);
        // A dynamic collection is counted as the grid counts it (its filter evaluated now).
        for (const c of l.filter((x) => x.n_items === null)) {
          api.items(ds, { collection: c.title, limit: 1 }).then(
            (p) => alive && setCounts((n) => ({ ...n, [c.title]: p.total })),
            (e) => alive && setCounts((n) => ({ ...n, [c.title]: errorText(e) })),
          );
        }
      },
      (e) => alive && setError(errorText(e)),
    );
    return () => {
      alive = false;
    };
  }, [ds, refresh]);

  const act = async (c: Collection, what: () => Promise<unknown>, done: string) => {
    setBusy(c.title);
    try {
      await what();
      toast(done, "ok");
      setRefresh((x) => x + 1);
    } catch (e) {
      setError(errorText(e));
    } finally {
      setBusy(null);
    }
  };

  const mayEdit = can(A.COLLECTIONS_EDIT, ds);
  const mayClassify = can(A.LABELS_BULK, ds);
  return (
    <section class="page collections-page" aria-label="Collections" data-testid="collections-page">
      <PageHead
        title="Collections"
        sub={
          `Saved sets of ${ds}'s items: static ones list their items (their title is a tag of each), ` +
          "dynamic ones keep a grid filter and are evaluated when read. Make them from the grid."
        }
      />
      <ErrorBox error={error} testid="collections-error" />
      {list === null && !error ? <Spinner /> : null}
      {list && !list.length ? (
        <Empty>
          <h2>No collections yet</h2>
          <p>
            In the <a href={href("d", ds, "grid")}>grid</a>, filter or select items, then Save as collection.
          </p>
        </Empty>
      ) : null}
      {list && list.length ? (
        <div class="table-wrap">
          <table class="results-table collections-table" data-testid="collections">
            <thead>
              <tr>
                <th>Title</th>
                <th>Kind</th>
                <th>Filter</th>
                <th class="num">Items</th>
                <th>Created</th>
                <th aria-label="Actions" />
              </tr>
            </thead>
            <tbody>
              {list.map((c) => {
                const n = c.n_items ?? counts[c.title];
                return (
                  <tr
                    key={c.id}
                    class="collection-row clickable"
                    data-testid="collection"
                    data-title={c.title}
                    data-kind={c.kind}
                    title={`Open the items of ${c.title} in the grid`}
                    onClick={(e) => {
                      if (!(e.target as HTMLElement).closest("button, a")) navigate(gridOf(ds, c));
                    }}
                  >
                    <td>
                      <a href={gridOf(ds, c)} data-testid="open">
                        <strong>{c.title}</strong>
                      </a>
                      {c.description ? <div class="muted small">{c.description}</div> : null}
                    </td>
                    <td>
                      <span class={`chip ${c.kind === "static" ? "chip-label" : "chip-state"}`} data-testid="kind">
                        {c.kind}
                      </span>
                    </td>
                    <td class="mono small" data-testid="filter">
                      {c.filter ?? <span class="muted">—</span>}
                    </td>
                    <td class="num" data-testid="n-items" title={typeof n === "string" ? n : undefined}>
                      {typeof n === "number" ? fmtCount(n) : n === undefined ? "…" : "?"}
                    </td>
                    <td title={new Date(c.created_at).toLocaleString()}>
                      {new Date(c.created_at).toLocaleDateString(undefined, { dateStyle: "medium" })}
                    </td>
                    <td class="row-actions">
                      <button
                        type="button"
                        class="small"
                        data-testid="classify"
                        disabled={busy !== null || !mayClassify}
                        title={whyNot(A.LABELS_BULK, ds) ?? `Give every item of ${c.title} one classification`}
                        onClick={() => setClassifying(c)}
                      >
                        Classify…
                      </button>
                      {c.kind === "dynamic" ? (
                        <button
                          type="button"
                          class="small"
                          data-testid="freeze"
                          disabled={busy !== null || !mayEdit}
                          title={
                            whyNot(A.COLLECTIONS_EDIT, ds) ??
                            "Keep the items the filter matches now, as a static collection"
                          }
                          onClick={() =>
                            act(c, () => api.freezeCollection(ds, c.title), `${c.title} frozen into a static collection`)
                          }
                        >
                          Freeze
                        </button>
                      ) : null}
                      <button
                        type="button"
                        class="small ghost danger"
                        data-testid="delete"
                        disabled={busy !== null || !mayEdit}
                        title={whyNot(A.COLLECTIONS_EDIT, ds)}
                        onClick={() => setDeleting(c)}
                      >
                        Delete
                      </button>
                    </td>
                  </tr>
                );
              })}
            </tbody>
          </table>
        </div>
      ) : null}
      <BulkClassifyDialog
        open={classifying !== null}
        ds={ds}
        source={classifying ? { collection: classifying.title } : null}
        onClose={() => setClassifying(null)}
      />
      <Dialog
        open={deleting !== null}
        onClose={() => setDeleting(null)}
        title={deleting ? `Delete ${deleting.title}?` : "Delete"}
        testid="delete-collection"
      >
        {deleting ? (
          <div class="dialog-body">
            <p>
              The collection goes; its items stay in the dataset. The History page can undo it.
            </p>
            <footer class="dialog-foot">
              <button type="button" class="ghost" onClick={() => setDeleting(null)}>
                Cancel
              </button>
              <button
                type="button"
                class="primary danger"
                data-testid="confirm-delete"
                onClick={() => {
                  const c = deleting;
                  setDeleting(null);
                  void act(c, () => api.deleteCollection(ds, c.title), `${c.title} deleted`);
                }}
              >
                Delete
              </button>
            </footer>
          </div>
        ) : null}
      </Dialog>
    </section>
  );
}

function gridOf(ds: string, c: Collection): string {
  return href("d", ds, "grid", { collection: c.title });
}

/** Save the grid's filter (dynamic) or its selected items (static) as a collection. */
export function SaveCollectionDialog({
  open,
  ds,
  source,
  onClose,
  onSaved,
}: {
  open: boolean;
  ds: string;
  /** What to save: the filter (`where`) or the items (`item_ids`). */
  source: Omit<NewCollection, "title" | "description">;
  onClose: () => void;
  onSaved?: (c: Collection) => void;
}) {
  const [title, setTitle] = useState("");
  const [description, setDescription] = useState("");
  const [error, setError] = useState<string | null>(null);
  const [saving, setSaving] = useState(false);
  useEffect(() => {
    if (open) setError(null);
  }, [open]);
  const what = source.item_ids
    ? `${source.item_ids.length} selected item${source.item_ids.length === 1 ? "" : "s"} (static)`
    : `the filter ${source.where} (dynamic: evaluated when read)`;
  const submit = async (e: Event) => {
    e.preventDefault();
    setSaving(true);
    try {
      const made = await api.createCollection(ds, { ...source, title: title.trim(), description });
      toast(`Collection ${made.title} saved`, "ok");
      setTitle("");
      setDescription("");
      onSaved?.(made);
      onClose();
    } catch (err) {
      setError(errorText(err));
    } finally {
      setSaving(false);
    }
  };
  return (
    <Dialog open={open} onClose={onClose} title="Save as collection" testid="save-collection-dialog">
      <form class="dialog-body" onSubmit={submit}>
        <p class="muted small" data-testid="save-collection-what">
          Saves {what}.
        </p>
        <Field label="Title">
          <input
            type="text"
            value={title}
            required
            maxLength={128}
            aria-label="Title"
            data-testid="collection-title"
            onInput={(e) => setTitle((e.target as HTMLInputElement).value)}
          />
        </Field>
        <Field label="Description">
          <textarea
            value={description}
            rows={2}
            aria-label="Description"
            data-testid="collection-description"
            onInput={(e) => setDescription((e.target as HTMLTextAreaElement).value)}
          />
        </Field>
        <ErrorBox error={error} testid="save-collection-error" />
        <footer class="dialog-foot">
          <button type="button" class="ghost" onClick={onClose}>
            Cancel
          </button>
          <button type="submit" class="primary" data-testid="save-collection" disabled={saving || !title.trim()}>
            {saving ? "Saving…" : "Save"}
          </button>
        </footer>
      </form>
    </Dialog>
  );
}
