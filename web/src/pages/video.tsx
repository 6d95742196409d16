// The video page (F-24): a player, the shot timeline, the keyframe strip and the transcript, with
// each cue's score for a chosen tag; clicking a shot, keyframe or cue seeks the player there.
import { useEffect, useMemo, useRef, useState } from "preact/hooks";
import { api, errorText, type TagGroup, type VideoDetail } from "../api";
import { ErrorBox, PageHead, Spinner, fmtScore } from "../components/ui";
import { href, navigate } from "../router";
import { sqlString } from "../sqlfilters";

/** 83500 -> "1:23.5" */
export function fmtTime(ms: number): string {
  const s = ms / 1000;
  const m = Math.floor(s / 60);
  return `${m}:${(s - m * 60).toFixed(1).padStart(4, "0")}`;
}

/** The kinds of item a dataset holds, with their counts: [["image", 80], ["shot", 10], ...]. */
export function useModalities(ds: string, after: Promise<unknown> = Promise.resolve()): [string, number][] {
  const [modalities, setModalities] = useState<[string, number][]>([]);
  useEffect(() => {
    let alive = true;
    void after.then(() =>
      api
        .sql(`SELECT modality, count(*) FROM items WHERE dataset = ${sqlString(ds)} GROUP BY modality ORDER BY modality`)
        .then(
          (r) => alive && setModalities(r.rows.map((row) => [String(row[0]), Number(row[1])] as [string, number])),
          () => alive && setModalities([]),
        ),
    );
    return () => {
      alive = false;
    };
  }, [ds]);
  return modalities;
}

interface CueScore {
  score: number;
  decision: boolean;
}

export function VideoPage({ ds, id, q }: { ds: string; id: number; q: URLSearchParams }) {
  const [detail, setDetail] = useState<VideoDetail | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [now, setNow] = useState(0);
  const player = useRef<HTMLVideoElement>(null);
  const tag = q.get("tag") ?? ""; // "<group>\u0000<tag>" in the picker, "group/tag" in the URL

  useEffect(() => {
    api.video(ds, id).then(setDetail, (e) => setError(errorText(e)));
  }, [ds, id]);

  const seek = (ms: number) => {
    const v = player.current;
    if (!v) return;
    v.currentTime = ms / 1000;
    setNow(ms);
  };

  // `?t=<ms>` (an opened shot, keyframe or cue) starts the player there.
  const start = Number(q.get("t") ?? 0);
  const onLoaded = () => {
    if (start > 0) seek(start);
  };

  const scores = useCueScores(ds, id, tag);
  const strip = useRef<HTMLDivElement>(null);
  const shotId = detail?.shots.find((s) => s.start_ms <= now && now < s.end_ms)?.id;
  // The strip follows the player: the current shot's first keyframe comes into view (the strip
  // scrolls on its own; the page stays where it is).
  useEffect(() => {
    const el = strip.current;
    const first = el?.querySelector<HTMLElement>(".keyframe.in-shot");
    if (!el || !first) return;
    const left = first.offsetLeft; // the strip is the keyframes' offset parent
    if (left < el.scrollLeft || left + first.offsetWidth > el.scrollLeft + el.clientWidth)
      el.scrollTo({ left: Math.max(0, left - 8) });
  }, [shotId]);

  if (error) return <ErrorBox error={error} testid="video-error" />;
  if (!detail) return <Spinner label="Loading the video" />;
  const { video, shots, keyframes, cues } = detail;
  const duration = Math.max(detail.duration_ms, 1);
  const meta = video.metadata as { fps?: number; codec?: string };
  const currentShot = shots.find((s) => s.id === shotId);

  return (
    <section class="page video-page" aria-label="Video" data-testid="video-page">
      <PageHead
        title={video.name}
        sub={
          <>
            {fmtTime(detail.duration_ms)} · {video.media ? `${video.media.width}×${video.media.height}` : ""}
            {meta.fps ? ` · ${meta.fps.toFixed(2)} fps` : ""}
            {meta.codec ? ` · ${meta.codec}` : ""} · {shots.length} shots · {keyframes.length} keyframes ·{" "}
            {cues.length} cues
          </>
        }
      >
        <a class="ghost" href={href("d", ds, "grid", { where: `video_id = ${id}` })}>
          Its items in the grid
        </a>
        <a class="ghost" href={href("items", id)}>
          Item details
        </a>
      </PageHead>

      <div class="video-layout">
        <div class="video-main">
          <video
            ref={player}
            class="video-player"
            data-testid="video-player"
            src={video.media_url}
            poster={video.thumbnail_url}
            controls
            preload="metadata"
            onLoadedMetadata={onLoaded}
            onTimeUpdate={(e) => setNow(Math.round((e.target as HTMLVideoElement).currentTime * 1000))}
            onSeeked={(e) => setNow(Math.round((e.target as HTMLVideoElement).currentTime * 1000))}
          />

          <h2 class="video-h">Shots</h2>
          <div class="shot-timeline" role="list" aria-label="Shot timeline" data-testid="shot-timeline">
            {shots.map((s) => (
              <button
                key={s.id}
                type="button"
                role="listitem"
                class={`shot-seg${currentShot?.id === s.id ? " on" : ""}`}
                style={{ left: `${(100 * s.start_ms) / duration}%`, width: `${(100 * (s.end_ms - s.start_ms)) / duration}%` }}
                title={`Shot ${s.index + 1}: ${fmtTime(s.start_ms)}–${fmtTime(s.end_ms)}`}
                aria-label={`Shot ${s.index + 1}, ${fmtTime(s.start_ms)} to ${fmtTime(s.end_ms)}`}
                data-testid="shot"
                data-start-ms={s.start_ms}
                onClick={() => seek(s.start_ms)}
              >
                {s.index + 1}
              </button>
            ))}
            <span class="playhead" style={{ left: `${(100 * now) / duration}%` }} aria-hidden="true" />
          </div>

          <h2 class="video-h">Keyframes</h2>
          <div ref={strip} class="keyframe-strip" role="list" aria-label="Keyframes" data-testid="keyframe-strip">
            {keyframes.map((k) => (
              <button
                key={k.id}
                type="button"
                role="listitem"
                class={`keyframe${k.shot_id === currentShot?.id ? " in-shot" : ""}`}
                title={`Keyframe ${k.index} at ${fmtTime(k.time_ms)}`}
                aria-label={`Keyframe at ${fmtTime(k.time_ms)}`}
                data-testid="keyframe"
                data-time-ms={k.time_ms}
                onClick={() => seek(k.time_ms)}
              >
                <img src={k.thumbnail_url} alt="" loading="lazy" decoding="async" draggable={false} />
                <span class="keyframe-time">{fmtTime(k.time_ms)}</span>
              </button>
            ))}
          </div>
        </div>

        <aside class="video-side" aria-label="Transcript">
          <div class="video-side-head">
            <h2 class="video-h">Transcript</h2>
            <TagPicker ds={ds} value={tag} onChange={(v) => navigate(href("d", ds, "videos", id, { tag: v }), true)} />
          </div>
          {scores.error ? <ErrorBox error={scores.error} testid="cue-score-error" /> : null}
          {!cues.length ? <p class="muted">No transcript.</p> : null}
          <ol class="cue-list" data-testid="cues">
            {cues.map((c) => {
              const sc = scores.byId.get(c.id);
              const on = c.start_ms <= now && now < c.end_ms;
              return (
                <li key={c.id}>
                  <button
                    type="button"
                    class={`cue${on ? " on" : ""}`}
                    data-testid="cue"
                    data-start-ms={c.start_ms}
                    data-item-id={c.id}
                    aria-current={on ? "true" : undefined}
                    onClick={() => seek(c.start_ms)}
                  >
                    <span class="cue-time mono">
                      {fmtTime(c.start_ms)}–{fmtTime(c.end_ms)}
                    </span>
                    <span class="cue-text">{c.text}</span>
                    {sc ? (
                      <span class={`chip ${sc.decision ? "chip-tag" : "chip-muted"} cue-score`} data-testid="cue-score">
                        {fmtScore(sc.score, 2)}
                      </span>
                    ) : null}
                  </button>
                </li>
              );
            })}
          </ol>
        </aside>
      </div>
    </section>
  );
}

/** The tag whose transcript scores the cues show: "group/tag", or "" for none. */
function TagPicker({ ds, value, onChange }: { ds: string; value: string; onChange: (v: string) => void }) {
  const [groups, setGroups] = useState<TagGroup[]>([]);
  useEffect(() => {
    api.groups(ds).then(setGroups, () => setGroups([]));
  }, [ds]);
  if (!groups.length) return null;
  return (
    <label class="inline">
      <span>Scores of</span>
      <select
        aria-label="Tag of the cue scores"
        data-testid="cue-tag"
        value={value}
        onChange={(e) => onChange((e.target as HTMLSelectElement).value)}
      >
        <option value="">no tag</option>
        {groups.map((g) => (
          <optgroup key={g.id} label={g.name}>
            {g.tags.map((t) => (
              <option key={t.name} value={`${g.name}/${t.name}`}>
                {t.name}
              </option>
            ))}
          </optgroup>
        ))}
      </select>
    </label>
  );
}

/** The transcript scores of a tag ("group/tag") for the video's cues, from `dt_<group>_transcript`. */
function useCueScores(ds: string, id: number, tag: string): { byId: Map<number, CueScore>; error: string | null } {
  const [state, setState] = useState<{ key: string; byId: Map<number, CueScore>; error: string | null }>({
    key: "",
    byId: new Map(),
    error: null,
  });
  const key = `${ds}\n${id}\n${tag}`;
  useEffect(() => {
    const cut = tag.indexOf("/");
    if (cut < 0) return;
    let alive = true;
    const [groupName, tagName] = [tag.slice(0, cut), tag.slice(cut + 1)];
    void (async () => {
      try {
        const group = (await api.groups(ds)).find((g) => g.name === groupName);
        const table = group ? `dt_${group.slug}_transcript` : "";
        const tables = await api.tables();
        if (!group || !tables.some((t) => t.name === table)) {
          if (alive) setState({ key, byId: new Map(), error: `${groupName} has no transcript scores on ${ds} yet` });
          return;
        }
        const r = await api.sql(
          `SELECT d.item_id, d.score, d.decision FROM ${table} d JOIN items i ON i.id = d.item_id ` +
            `WHERE i.video_id = ${id} AND d.tag = ${sqlString(tagName)}`,
          100_000,
        );
        const byId = new Map(r.rows.map((row) => [Number(row[0]), { score: Number(row[1]), decision: Boolean(row[2]) }]));
        if (alive) setState({ key, byId, error: null });
      } catch (e) {
        if (alive) setState({ key, byId: new Map(), error: errorText(e) });
      }
    })();
    return () => {
      alive = false;
    };
  }, [key]);
  return useMemo(
    () => (state.key === key && tag ? state : { byId: new Map<number, CueScore>(), error: null }),
    [state, key, tag],
  );
}
