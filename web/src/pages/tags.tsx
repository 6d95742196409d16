// Tag management (F-20, F-26): tag group cards with pending / committed state and scoring status;
// a group page with its tags, publishing and visibility; the create-group dialog.
import { useEffect, useState } from "preact/hooks";
import { api, errorText, type GroupUse, type Job, type Space, type Tag, type TagGroup } from "../api";
import { A, can, whyNot } from "../auth";
import { Chip, Dialog, Empty, ErrorBox, Field, JobProgress, PageHead, Spinner } from "../components/ui";
import { jobs, watchJob, isFinished } from "../jobs";
import { href, navigate } from "../router";
import { toast, useStore } from "../store";

export function tagState(group: TagGroup): { label: string; kind: "pos" | "muted" | "state" } {
  if (group.state === "published") return { label: "committed", kind: "pos" };
  if (group.state === "pending") return { label: "pending · edited", kind: "state" };
  return { label: "pending · draft", kind: "state" };
}

/** The scoring status of a group on this dataset: a job the app watches, else the API's word. */
export function useScoring(ds: string, group: TagGroup | null): { status: string; job: Job | null } {
  const all = useStore(jobs);
  const [use, setUse] = useState<GroupUse | null>(null);
  const job =
    (group &&
      Object.values(all)
        .filter((j) => j.kind.includes("scor") || j.kind.includes("publish") || j.kind.includes("tag"))
        .filter((j) => {
          const p = j.params ?? {};
          return p.group === group.name || p.group_id === group.id || p.slug === group.slug;
        })
        .sort((a, b) => b.id - a.id)[0]) ||
    null;
  const jobKey = job ? `${job.id}:${job.status}` : "";
  useEffect(() => {
    if (!group) return;
    let alive = true;
    api.uses(group.name).then(
      (list) => {
        if (!alive) return;
        const u = list.find((x) => x.dataset === ds) ?? null;
        setUse(u);
        if (u?.job_id && !jobs.get()[u.job_id] && ["queued", "scoring"].includes(u.status)) {
          void api.job(u.job_id).then((j) => void watchJob(j), () => undefined);
        }
      },
      () => alive && setUse(null),
    );
    return () => {
      alive = false;
    };
  }, [ds, group?.name, group?.version, jobKey]);
  if (!group) return { status: "unscored", job: null };
  if (job && !isFinished(job)) return { status: job.status === "queued" ? "queued" : "scoring", job };
  if (job && job.status === "error") return { status: "error", job };
  if (use) return { status: use.update_available ? `${use.status} · update available` : use.status, job };
  const s = group.scoring?.status;
  if (s) return { status: s, job };
  if (job && job.status === "done") return { status: "scored", job };
  return { status: group.version > 0 ? "scored" : "unscored", job };
}

export function ScoringChip({ status }: { status: string }) {
  const kind = status.startsWith("scored") ? "pos" : status === "error" ? "neg" : status === "unscored" ? "muted" : "state";
  return (
    <Chip kind={kind} title="Scoring status on this dataset">
      <span data-testid="scoring-status">{status}</span>
    </Chip>
  );
}

export function TagsPage({ ds, q }: { ds: string; q: URLSearchParams }) {
  const [groups, setGroups] = useState<TagGroup[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [creating, setCreating] = useState(q.get("new") === "1");
  const reload = () => api.groups(ds).then(setGroups, (e) => setError(errorText(e)));
  useEffect(() => {
    void reload();
  }, [ds]);

  return (
    <section class="page tags-page" aria-label="Tags">
      <PageHead title="Tags" sub="Pending and committed tags of the groups this dataset trains or applies.">
        <button
          type="button"
          class="primary"
          data-testid="new-group"
          disabled={!can(A.TAGS_EDIT, ds)}
          title={whyNot(A.TAGS_EDIT, ds)}
          onClick={() => setCreating(true)}
        >
          + New tag group
        </button>
      </PageHead>
      <ErrorBox error={error} />
      {groups === null && !error ? <Spinner /> : null}
      {groups && !groups.length ? (
        <Empty>
          <h2>No tag groups yet</h2>
          <p>Create a group from a list of tag names, one per line: each name becomes a tag and its first prompt.</p>
          <button
            type="button"
            class="primary"
            disabled={!can(A.TAGS_EDIT, ds)}
            title={whyNot(A.TAGS_EDIT, ds)}
            onClick={() => setCreating(true)}
          >
            Create a tag group
          </button>
        </Empty>
      ) : null}
      {(groups ?? []).map((g) => (
        <GroupSection key={g.id} ds={ds} group={g} />
      ))}
      <CreateGroupDialog
        ds={ds}
        open={creating}
        onClose={() => setCreating(false)}
        onCreated={(g) => {
          setCreating(false);
          toast(`Group ${g.name} created with ${g.tags.length} tags`, "ok");
          navigate(href("d", ds, "tags", g.name));
        }}
      />
    </section>
  );
}

function GroupSection({ ds, group }: { ds: string; group: TagGroup }) {
  const st = tagState(group);
  const scoring = useScoring(ds, group);
  return (
    <section class="group" aria-label={`Tag group ${group.name}`} data-testid="group">
      <header class="group-head">
        <h2>
          <a href={href("d", ds, "tags", group.name)}>{group.name}</a>
        </h2>
        <Chip kind={st.kind}>{st.label}</Chip>
        <ScoringChip status={scoring.status} />
        <Chip kind="muted">{group.visibility}</Chip>
        {group.dataset !== ds ? <Chip kind="muted">applied from {group.dataset}</Chip> : null}
        <span class="muted small">
          v{group.version} · space {group.space} · <code>{group.table}</code>
        </span>
      </header>
      {scoring.job && !isFinished(scoring.job) ? <JobProgress job={scoring.job} label="Scoring" /> : null}
      <TagCards ds={ds} group={group} scoring={scoring.status} />
    </section>
  );
}

function TagCards({ ds, group, scoring }: { ds: string; group: TagGroup; scoring: string }) {
  const st = tagState(group);
  return (
    <div class="tag-cards">
      {group.tags.map((t) => (
        <a key={t.name} class="tag-card" href={href("d", ds, "tags", group.name, t.name)} data-testid="tag-card" data-tag={t.name}>
          <div class="tag-card-head">
            <strong>{t.name}</strong>
            <Chip kind={st.kind}>{st.kind === "pos" ? "committed" : "pending"}</Chip>
          </div>
          <TagCounts tag={t} />
          <span class="muted small" data-testid="tag-scoring">
            scoring: {scoring}
          </span>
        </a>
      ))}
    </div>
  );
}

export function TagCounts({ tag }: { tag: Tag }) {
  const pos = tag.examples.filter((e) => e.polarity === "positive").length;
  const neg = tag.examples.length - pos;
  const prompts = tag.prompts.length;
  return (
    <div class="tag-counts muted small">
      <span title="text prompts">✎ {prompts}</span>
      <span title="positive examples">+ {pos}</span>
      <span title="negative examples">− {neg}</span>
      <span title="threshold">θ {tag.threshold.toFixed(2)}</span>
      {tag.is_autotag ? <span>autotag</span> : null}
    </div>
  );
}

export function GroupPage({ ds, group: name }: { ds: string; group: string }) {
  const [group, setGroup] = useState<TagGroup | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [adding, setAdding] = useState("");
  const [publishing, setPublishing] = useState<Job | null>(null);
  const reload = () => api.group(name).then(setGroup, (e) => setError(errorText(e)));
  useEffect(() => {
    void reload();
  }, [name]);
  const scoring = useScoring(ds, group);

  const publish = async () => {
    if (!group) return;
    setError(null);
    try {
      const job = await api.publish(ds, group.name);
      setPublishing(job);
      toast(`Publishing ${group.name}: scoring started`, "info");
      const done = await watchJob(job);
      await reload();
      toast(done.status === "error" ? `Scoring failed: ${done.error}` : `${group.name} scored`, done.status === "error" ? "error" : "ok");
    } catch (e) {
      setError(errorText(e));
    }
  };

  if (!group) return error ? <ErrorBox error={error} /> : <Spinner />;
  const st = tagState(group);
  const editable = group.dataset === ds;
  const denied = whyNot(A.TAGS_EDIT, ds);
  return (
    <section class="page group-page" aria-label={`Tag group ${group.name}`}>
      <PageHead
        title={
          <>
            <a class="crumb" href={href("d", ds, "tags")}>
              Tags
            </a>{" "}
            / {group.name}
          </>
        }
        sub={
          <>
            <Chip kind={st.kind}>{st.label}</Chip> <ScoringChip status={scoring.status} /> trained on{" "}
            <b>{group.dataset}</b> · space <b>{group.space}</b> · version {group.version} · table{" "}
            <code>{group.table}</code>
          </>
        }
      >
        {editable ? (
          <label class="inline">
            <span>Visibility</span>
            <select
              aria-label="Visibility"
              value={group.visibility}
              disabled={Boolean(denied)}
              title={denied}
              onChange={async (e) => {
                try {
                  setGroup(await api.setVisibility(ds, group.name, (e.target as HTMLSelectElement).value));
                } catch (err) {
                  setError(errorText(err));
                }
              }}
            >
              <option value="secret">secret</option>
              <option value="shareable">shareable</option>
            </select>
          </label>
        ) : null}
        {editable ? (
          <button
            type="button"
            class="primary"
            data-testid="publish"
            disabled={Boolean(denied) || Boolean(publishing && !isFinished(latestJob(publishing)))}
            title={denied}
            onClick={publish}
          >
            {group.state === "draft" ? "Publish group" : "Commit & rescore"}
          </button>
        ) : null}
        <a class="button ghost" href={href("d", ds, "sql", { sql: `SELECT tag, count(*) AS n, avg(score) AS mean_score, sum(CASE WHEN decision THEN 1 ELSE 0 END) AS tagged\nFROM ${group.table}\nGROUP BY tag\nORDER BY tag` })}>
          Query in SQL
        </a>
      </PageHead>
      <ErrorBox error={error} />
      {publishing || (scoring.job && !isFinished(scoring.job)) ? (
        <JobProgress job={publishing ?? scoring.job} label="Scoring" />
      ) : null}
      <TagCards ds={ds} group={group} scoring={scoring.status} />
      {editable && !denied ? (
        <form
          class="add-tags"
          onSubmit={async (e) => {
            e.preventDefault();
            try {
              setGroup(await api.addTags(ds, group.name, adding));
              setAdding("");
            } catch (err) {
              setError(errorText(err));
            }
          }}
        >
          <Field label="Add tags (one per line)">
            <textarea rows={2} value={adding} aria-label="New tag names" onInput={(e) => setAdding((e.target as HTMLTextAreaElement).value)} />
          </Field>
          <button type="submit" disabled={!adding.trim()}>
            Add tags
          </button>
        </form>
      ) : editable ? (
        <p class="muted" data-testid="add-tags-denied">
          Adding tags {denied?.replace(/^Needs/, "needs")}.
        </p>
      ) : (
        <p class="muted">This dataset applies the group; edit it from {group.dataset}.</p>
      )}
    </section>
  );
}

function latestJob(job: Job): Job {
  return jobs.get()[job.id] ?? job;
}

export function CreateGroupDialog({
  ds,
  open,
  onClose,
  onCreated,
}: {
  ds: string;
  open: boolean;
  onClose: () => void;
  onCreated: (g: TagGroup) => void;
}) {
  const [name, setName] = useState("");
  const [tags, setTags] = useState("");
  const [visibility, setVisibility] = useState("secret");
  const [spaces, setSpaces] = useState<Space[] | null>(null);
  const [space, setSpace] = useState("");
  const [error, setError] = useState<{ message: string; field: string | null } | null>(null);
  const [busy, setBusy] = useState(false);
  useEffect(() => {
    if (!open) return;
    api.dataset(ds).then(
      (d) => {
        setSpaces(d.spaces);
        // The server's default: a semantic space (text, clip) before phash.
        setSpace((old) => (d.spaces.some((s) => s.name === old) ? old : (d.default_space ?? "")));
      },
      (e) => setError({ message: errorText(e), field: null }),
    );
  }, [open, ds]);
  const lines = tags.split("\n").filter((l) => l.trim());
  const bad = lines.filter((l) => !/^[\p{L}\p{N}]+( +[\p{L}\p{N}]+)*$/u.test(l.trim()));
  const submit = async (e: Event) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      const g = await api.createGroup(ds, name.trim(), tags, visibility, space);
      setName("");
      setTags("");
      onCreated(g);
    } catch (err) {
      setError({ message: errorText(err), field: (err as { field?: string }).field ?? null });
    } finally {
      setBusy(false);
    }
  };
  return (
    <Dialog open={open} onClose={onClose} title="New tag group" testid="create-group-dialog">
      <form class="dialog-body" onSubmit={submit}>
        <Field label="Group name" hint="Letters, digits, spaces, '_' or '-'. It names the SQL table dt_<group>_visual.">
          <input
            type="text"
            required
            value={name}
            aria-label="Group name"
            data-testid="group-name"
            aria-invalid={error?.field === "group" || error?.field === "name"}
            onInput={(e) => setName((e.target as HTMLInputElement).value)}
          />
        </Field>
        <Field label={`Tags, one per line (${lines.length})`} hint="Each line becomes a tag and its first positive text prompt.">
          <textarea
            rows={6}
            required
            value={tags}
            placeholder={"dog\ncat\npeople on a beach"}
            aria-label="Tag names, one per line"
            data-testid="group-tags"
            onInput={(e) => setTags((e.target as HTMLTextAreaElement).value)}
          />
        </Field>
        {bad.length ? (
          <p class="warn small">
            Tag names take letters, digits and spaces only: {bad.slice(0, 3).map((b) => `“${b.trim()}”`).join(", ")}
          </p>
        ) : null}
        <Field label="Visibility">
          <select aria-label="Visibility" value={visibility} onChange={(e) => setVisibility((e.target as HTMLSelectElement).value)}>
            <option value="secret">secret: only this dataset</option>
            <option value="shareable">shareable: other datasets may apply it</option>
          </select>
        </Field>
        <Field
          label="Embedding space"
          hint="The tags learn from this space's vectors. A semantic space (text, clip) knows what pictures show; phash only finds copies."
        >
          {spaces && !spaces.length ? (
            <p class="warn small" data-testid="no-space">
              This dataset has no embedding space yet: run <code>tagscope embed {ds}</code> first.
            </p>
          ) : (
            <select
              aria-label="Embedding space"
              data-testid="group-space"
              value={space}
              aria-invalid={error?.field === "space"}
              onChange={(e) => setSpace((e.target as HTMLSelectElement).value)}
            >
              {(spaces ?? []).map((s) => (
                <option key={s.name} value={s.name}>
                  {s.name} ({s.kind}
                  {s.semantic ? "" : ", near-duplicates only"})
                </option>
              ))}
            </select>
          )}
        </Field>
        <p class="muted small">
          Training dataset: <b>{ds}</b>
        </p>
        <ErrorBox error={error?.message ?? null} testid="create-group-error" />
        <footer class="dialog-foot">
          <button type="button" class="ghost" onClick={onClose}>
            Cancel
          </button>
          <button type="submit" class="primary" disabled={busy || !name.trim() || !lines.length || !space} data-testid="create-group">
            {busy ? "Creating…" : "Add group"}
          </button>
        </footer>
      </form>
    </Dialog>
  );
}

export { isFinished };
