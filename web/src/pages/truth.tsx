// Ground truth (F-29): the tag's reviews, people's and the LLM judge's. Review a sample yourself,
// or ask the judge about a stratified sample and clean its proposals: keep, flip or remove each.
import { useEffect, useState } from "preact/hooks";
import { api, errorText, type Job, type ReviewItem, type Scored } from "../api";
import { A, can, whyNot } from "../auth";
import { Thumb } from "../components/thumbs";
import { Empty, ErrorBox, JobProgress, NumberInput, PageHead, Spinner } from "../components/ui";
import { watchJob } from "../jobs";
import { href } from "../router";
import { toast } from "../store";
import { useConfig } from "../config";
import { TagCrumbs, useTag } from "./tag";

type Show = "all" | "llm" | "person";

export function TruthPage({ ds, group, tag }: { ds: string; group: string; tag: string }) {
  const { group: g, tag: t, error: tagError } = useTag(group, tag);
  const [reviews, setReviews] = useState<ReviewItem[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [show, setShow] = useState<Show>("all");
  const [n, setN] = useState(400);
  const [job, setJob] = useState<Job | null>(null);
  const [running, setRunning] = useState(false);
  const llm = useConfig()?.llm;
  const [refresh, setRefresh] = useState(0);
  const [sample, setSample] = useState<Scored[] | null>(null);
  const [sampleNo, setSampleNo] = useState(0);

  useEffect(() => {
    api.reviews(ds, group, tag).then(
      (r) => {
        setReviews(r);
        setError(null);
      },
      (e) => setError(errorText(e)),
    );
  }, [ds, group, tag, refresh]);

  useEffect(() => {
    if (!t) return;
    api.preview(ds, group, tag, { threshold: t.threshold, view: "compare", n: 12 }).then(
      (p) => setSample([...p.positives, ...p.negatives]),
      (e) => setError(errorText(e)),
    );
  }, [ds, group, tag, t?.threshold, sampleNo]);

  if (tagError) return <ErrorBox error={tagError} />;
  if (!g || !t) return <Spinner />;
  // Reviews and the judge's verdicts are ground truth: a reviewer's to record.
  const mayReview = can(A.TAGS_REVIEW, ds);
  const denied = whyNot(A.TAGS_REVIEW, ds);

  const judge = async () => {
    setRunning(true);
    try {
      const j = await api.judge(ds, g.name, t.name, n);
      setJob(j);
      const done = await watchJob(j);
      const r = done.result as { n_judged?: number; n_failed?: number } | null;
      toast(
        done.status === "error"
          ? `The judge failed: ${done.error}`
          : `The judge answered ${r?.n_judged ?? 0} item(s)${r?.n_failed ? `, ${r.n_failed} failed` : ""}`,
        done.status === "error" ? "error" : "ok",
      );
      setRefresh((x) => x + 1);
    } catch (e) {
      setError(errorText(e));
    } finally {
      setRunning(false);
    }
  };

  const act = async (what: Promise<unknown>) => {
    try {
      await what;
      setRefresh((x) => x + 1);
    } catch (e) {
      setError(errorText(e));
    }
  };

  const reviewed = new Set((reviews ?? []).map((r) => r.item_id));
  const toReview = (sample ?? []).filter((x) => !reviewed.has(x.item_id)).slice(0, 24);
  const shown = (reviews ?? []).filter((r) => show === "all" || r.source === show);
  const count = (s: Show) => (reviews ?? []).filter((r) => s === "all" || r.source === s).length;

  return (
    <section class="page truth-page" aria-label={`Ground truth of ${t.name}`} data-testid="truth-page">
      <PageHead
        title={<TagCrumbs ds={ds} group={g.name} tag={t.name} page="ground truth" />}
        sub={
          reviews ? (
            <>
              {reviews.length} reviewed item(s): {count("person")} by people, {count("llm")} proposed by the LLM
              judge. Remove the judge's wrong verdicts, or flip them, before reading the metrics.
            </>
          ) : null
        }
      >
        <a class="button ghost" href={href("d", ds, "tags", g.name, t.name, "metrics")} data-testid="to-metrics">
          Metrics
        </a>
      </PageHead>
      <ErrorBox error={error} testid="truth-error" />
      <div class="panel judge-panel">
        <label>
          Ask the LLM judge about{" "}
          <NumberInput
            value={n}
            min={1}
            max={5000}
            step={50}
            digits={0}
            onCommit={(v) => setN(Math.round(v))}
            aria-label="Items to judge"
            data-testid="judge-n"
          /> items
        </label>
        <button
          type="button"
          class="primary"
          onClick={judge}
          data-testid="run-judge"
          disabled={running || !llm?.configured || !mayReview}
          aria-describedby="judge-how"
          title={denied ?? (llm && !llm.configured ? `No LLM judge is configured: ${llm.how_to}` : undefined)}
        >
          Evaluate with the LLM judge
        </button>
        {llm && !llm.configured ? (
          <span class="warn small" id="judge-how" data-testid="judge-not-configured">
            No LLM judge is configured: {llm.how_to}.
          </span>
        ) : (
          <span class="muted" id="judge-how">
            A stratified sample over the scores, judged by {"the server's"} OpenAI-compatible endpoint.
          </span>
        )}
        <JobProgress job={job} label="judging" />
      </div>
      <div class="panel">
        <div class="panel-head">
          <h3>Review a sample yourself</h3>
          <button type="button" class="small ghost" onClick={() => setSampleNo((x) => x + 1)} data-testid="new-sample">
            Another sample
          </button>
        </div>
        {sample && !toReview.length ? <p class="muted">Every item of this sample is reviewed.</p> : null}
        <div class="thumb-grid small" data-testid="to-review">
          {toReview.map((x) => (
            <Thumb key={x.item_id} id={x.item_id} src={x.thumbnail_url} score={x.score} testid="to-review-item">
              {mayReview ? (
              <div class="card-actions">
                <button
                  type="button"
                  class="small pos-btn"
                  data-testid="review-yes"
                  aria-label={`Item ${x.item_id} shows ${t.name}`}
                  title={`Shows ${t.name}`}
                  onClick={() => act(api.review(ds, g.name, t.name, x.item_id, true))}
                >
                  ✓ Yes
                </button>
                <button
                  type="button"
                  class="small neg-btn"
                  data-testid="review-no"
                  aria-label={`Item ${x.item_id} does not show ${t.name}`}
                  title={`Does not show ${t.name}`}
                  onClick={() => act(api.review(ds, g.name, t.name, x.item_id, false))}
                >
                  ✗ No
                </button>
              </div>
              ) : null}
            </Thumb>
          ))}
        </div>
      </div>
      <div class="segmented" role="radiogroup" aria-label="Reviews to show">
        {(["all", "llm", "person"] as Show[]).map((k) => (
          <label key={k} class={show === k ? "on" : ""}>
            <input type="radio" name="show" value={k} checked={show === k} onChange={() => setShow(k)} data-testid={`show-${k}`} />
            {k === "all" ? "All" : k === "llm" ? "LLM judge" : "People"} ({count(k)})
          </label>
        ))}
      </div>
      {!reviews && !error ? <Spinner /> : null}
      {reviews && !shown.length ? (
        <Empty>No reviews yet: ask the LLM judge, or review items from the preview.</Empty>
      ) : null}
      <div class="thumb-grid" data-testid="reviews">
        {shown.map((r) => (
          <Thumb
            key={r.item_id}
            id={r.item_id}
            src={r.thumbnail_url}
            title={r.path.split("/").pop()}
            testid="review"
            badge={
              <span class={`verdict ${r.label ? "yes" : "no"}`} data-testid="verdict">
                {r.label ? "shows" : "does not show"} · {r.source === "llm" ? "LLM" : "person"}
              </span>
            }
          >
            {r.reason ? <p class="reason muted" title={r.reason}>{r.reason}</p> : null}
            {mayReview ? (
            <div class="card-actions">
              <button
                type="button"
                class="small ghost"
                data-testid="flip"
                onClick={() => act(api.review(ds, g.name, t.name, r.item_id, !r.label))}
                title="Record the opposite verdict as yours"
              >
                Flip
              </button>
              <button
                type="button"
                class="small ghost danger"
                data-testid="remove"
                onClick={() => act(api.removeReviews(ds, g.name, t.name, [r.item_id]))}
              >
                Remove
              </button>
            </div>
            ) : null}
          </Thumb>
        ))}
      </div>
    </section>
  );
}
