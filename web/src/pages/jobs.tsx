// Jobs: every long task of the dataset, with status and progress.
import { useEffect, useState } from "preact/hooks";
import { api, errorText, type Job } from "../api";
import { Empty, ErrorBox, JobProgress, PageHead, Spinner } from "../components/ui";
import { watchJob, isFinished } from "../jobs";

export function JobsPage({ ds }: { ds: string }) {
  const [list, setList] = useState<Job[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  useEffect(() => {
    let alive = true;
    const load = () =>
      api.jobs(ds).then(
        (j) => {
          if (!alive) return;
          setList(j);
          j.filter((x) => !isFinished(x)).forEach((x) => void watchJob(x));
        },
        (e) => alive && setError(errorText(e)),
      );
    void load();
    const t = setInterval(load, 3000);
    return () => {
      alive = false;
      clearInterval(t);
    };
  }, [ds]);
  return (
    <section class="page jobs-page" aria-label="Jobs">
      <PageHead title="Jobs" sub={`Embedding and scoring work on ${ds}, newest first.`} />
      <ErrorBox error={error} />
      {list === null && !error ? <Spinner /> : null}
      {list && !list.length ? <Empty>No jobs yet.</Empty> : null}
      <div class="job-list">
        {(list ?? []).map((j) => (
          <div key={j.id} class="job-row">
            <JobProgress job={j} label={`#${j.id} ${j.kind}`} />
            <span class="muted small">{summary(j)}</span>
          </div>
        ))}
      </div>
    </section>
  );
}

function summary(j: Job): string {
  const p = Object.entries(j.params ?? {})
    .filter(([, v]) => typeof v !== "object")
    .map(([k, v]) => `${k}=${v}`)
    .join(" ");
  return p;
}
