// Jobs the app knows of, polled while they run, so every page can show their progress.
import { api, type Job } from "./api";
import { store } from "./store";

export const jobs = store<Record<number, Job>>({});
const DONE = new Set(["done", "error", "failed", "cancelled", "scored"]);
const polling = new Set<number>();
const waiters = new Map<number, ((j: Job) => void)[]>();

export function isFinished(job: Job): boolean {
  return DONE.has(job.status);
}

function put(job: Job): void {
  jobs.set((all) => ({ ...all, [job.id]: job }));
}

/** Track `job` until it finishes; resolves with its last state. */
export function watchJob(job: Job): Promise<Job> {
  put(job);
  return new Promise((resolve) => {
    if (isFinished(job)) return resolve(job);
    waiters.set(job.id, [...(waiters.get(job.id) ?? []), resolve]);
    if (polling.has(job.id)) return;
    polling.add(job.id);
    const tick = async () => {
      let current: Job | null = null;
      try {
        current = await api.job(job.id);
        put(current);
      } catch {
        /* transient: try again */
      }
      if (current && isFinished(current)) {
        polling.delete(job.id);
        (waiters.get(job.id) ?? []).forEach((w) => w(current!));
        waiters.delete(job.id);
      } else {
        setTimeout(tick, 400);
      }
    };
    setTimeout(tick, 250);
  });
}

/** Pick up jobs started elsewhere (the CLI, another tab) that are still running. */
export async function discoverJobs(dataset?: string): Promise<void> {
  try {
    for (const j of await api.jobs(dataset)) {
      if (!isFinished(j)) void watchJob(j);
    }
  } catch {
    /* the jobs list is optional here */
  }
}
