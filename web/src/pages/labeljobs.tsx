// Label jobs (F-70, F-71): the dataset's auto and manual label jobs; a submitted job opens its
// expert review.
import { useEffect, useState } from "preact/hooks";
import { api, errorText, type LabelJob } from "../api";
import { Empty, ErrorBox, PageHead, Spinner, fmtCount } from "../components/ui";
import { session } from "../auth";
import { href, navigate } from "../router";
import { toast } from "../store";

export function LabelJobsPage({ ds }: { ds: string }) {
  const [list, setList] = useState<LabelJob[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  useEffect(() => {
    let alive = true;
    api.labelJobs(ds).then(
      (l) => alive && setList(l),
      (e) => alive && setError(errorText(e)),
    );
    return () => {
      alive = false;
    };
  }, [ds]);

  return (
    <section class="page label-jobs-page" aria-label="Label jobs" data-testid="label-jobs-page">
      <PageHead
        title="Label jobs"
        sub={
          `Prelabels of ${ds}'s collections (auto jobs) and the people's labels made from them (manual ` +
          "jobs). A submitted job's expert labels are matched to its prelabels, for review."
        }
      />
      <ErrorBox error={error} testid="label-jobs-error" />
      {list === null && !error ? <Spinner /> : null}
      {list && !list.length ? (
        <Empty>
          <h2>No label jobs yet</h2>
          <p>
            Create one from a collection with <code>tagscope label-jobs create</code>, the SDK or the REST API.
          </p>
        </Empty>
      ) : null}
      {list && list.length ? (
        <div class="table-wrap">
          <table class="results-table label-jobs-table" data-testid="label-jobs">
            <thead>
              <tr>
                <th>Name</th>
                <th>Kind</th>
                <th>Status</th>
                <th>Collection</th>
                <th class="num">Items</th>
                <th>Label changes</th>
                <th>Created</th>
              </tr>
            </thead>
            <tbody>
              {list.map((j) => {
                // Only a submitted manual job has label changes to review.
                const to = j.status === "submitted" || j.status === "closed" ? reviewHref(ds, j.name) : null;
                return (
                  <tr
                    key={j.id}
                    class={to ? "clickable" : ""}
                    data-testid="label-job"
                    data-name={j.name}
                    title={to ? `Review ${j.name}` : undefined}
                    onClick={(e) => {
                      if (to && !(e.target as HTMLElement).closest("a")) navigate(to);
                    }}
                  >
                    <td>
                      {to ? (
                        <a href={to} data-testid="open-review">
                          <strong>{j.name}</strong>
                        </a>
                      ) : (
                        <strong>{j.name}</strong>
                      )}
                      {j.kind === "manual" && j.status !== "submitted" && j.status !== "closed" ? (
                        <button type="button" class="small ghost" data-testid="label-job-items" onClick={() => labelJobItems(ds, j.name).catch((e) => toast(errorText(e), "error"))}>
                          ✎ Label
                        </button>
                      ) : null}
                    </td>
                    <td>{j.kind}</td>
                    <td>
                      <span class="chip chip-state" data-testid="status">
                        {j.status}
                      </span>
                    </td>
                    <td>{j.collection ?? <span class="muted">—</span>}</td>
                    <td class="num">
                      {j.n_items === null
                        ? "–"
                        : j.kind === "manual" && j.n_done !== null
                          ? `${fmtCount(j.n_done)} done / ${fmtCount(j.n_items)}`
                          : fmtCount(j.n_items)}
                    </td>
                    <td class="small" data-testid="changes">
                      {changesText(j.changes) || <span class="muted">{jobNote(j)}</span>}
                    </td>
                    <td title={j.created_at ? new Date(j.created_at).toLocaleString() : undefined}>
                      {j.created_at ? new Date(j.created_at).toLocaleDateString(undefined, { dateStyle: "medium" }) : ""}
                      {j.created_by ? <span class="muted"> · {j.created_by}</span> : null}
                    </td>
                  </tr>
                );
              })}
            </tbody>
          </table>
        </div>
      ) : null}
    </section>
  );
}

function jobNote(j: LabelJob): string {
  if (j.kind === "auto") {
    const n = j.params.n_prelabels;
    return typeof n === "number" ? `${fmtCount(n)} prelabels written` : "prelabels written";
  }
  return j.status === "open" ? "not submitted yet" : "—";
}

/** "12 unchanged · 3 class changed · 1 added" */
function changesText(changes: Record<string, number>): string {
  return Object.entries(changes)
    .filter(([, n]) => n > 0)
    .map(([k, n]) => `${fmtCount(n)} ${k.replaceAll("_", " ")}`)
    .join(" · ");
}

export function reviewHref(ds: string, job: string): string {
  return href("d", ds, "label-jobs", job);
}

/** Opens the labeling tool on the job's first item (of the person, where there are accounts). */
async function labelJobItems(ds: string, job: string): Promise<void> {
  const me = session.get();
  const items = await api.labelJobItems(ds, job, me?.auth ? me.user : null);
  const first = items.find((i) => !i.done_at) ?? items[0];
  if (first) navigate(href("d", ds, "label", first.item_id, { from: `job:${job}` }));
}
