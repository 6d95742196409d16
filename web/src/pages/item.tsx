// Item detail (F-51): the image with its boxes, polygons and masks drawn, labels, every tag's
// score, and similar items.
import { useEffect, useMemo, useState } from "preact/hooks";
import { api, errorText, type Hit, type ItemDetail, type Label, type Space } from "../api";
import { Thumb } from "../components/thumbs";
import { ErrorBox, PageHead, Spinner, fmtScore, Empty } from "../components/ui";
import { href } from "../router";
import { colorOf } from "../colors";
import { rleToDataUrl } from "../rle";

export function ItemPage({ id }: { id: number }) {
  const [detail, setDetail] = useState<ItemDetail | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [hidden, setHidden] = useState<Set<string>>(new Set());
  const [hover, setHover] = useState<number | null>(null);

  useEffect(() => {
    api.item(id).then(setDetail, (e) => setError(errorText(e)));
  }, [id]);

  if (error) return <ErrorBox error={error} />;
  if (!detail) return <Spinner />;
  const { item, labels, scores, dataset } = detail;
  const names = [...new Set(labels.map((l) => l.name))];
  const w = item.media?.width ?? 0;
  const h = item.media?.height ?? 0;

  return (
    <section class="page item-page" aria-label="Item detail" data-testid="item-page">
      <PageHead
        title={item.name}
        sub={
          <>
            <a href={href("d", dataset, "grid")}>{dataset}</a> · item {item.id}
            {w ? ` · ${w}×${h}` : ""}
            {item.media ? ` · ${item.media.format} · ${(item.media.size / 1024).toFixed(0)} KB` : ""}
            {item.split ? ` · ${item.split}` : ""}
          </>
        }
      >
        <a class="button" href={href("d", dataset, "search", { mode: "item", item: item.id })}>
          Find similar
        </a>
        <a class="button ghost" href={item.media_url} target="_blank" rel="noreferrer">
          Open original
        </a>
      </PageHead>

      <div class="item-layout">
        <div class="viewer">
          <div class="stage" style={w && h ? { aspectRatio: `${w} / ${h}` } : undefined}>
            <img src={item.media_url} alt={item.name} data-testid="item-image" />
            {w && h ? (
              <svg
                class="overlay"
                viewBox={`0 0 ${w} ${h}`}
                preserveAspectRatio="none"
                role="img"
                aria-label={`${labels.filter((l) => l.geometry).length} labels drawn`}
                data-testid="overlay"
              >
                {labels.map((l, i) =>
                  hidden.has(l.name) ? null : (
                    <Shape key={i} label={l} w={w} h={h} active={hover === i} onHover={(on) => setHover(on ? i : null)} />
                  ),
                )}
              </svg>
            ) : null}
          </div>
          {item.text ? (
            <div class="item-text" aria-label="Text">
              {item.text.split("\n").map((line, i) => (
                <p key={i}>{line}</p>
              ))}
            </div>
          ) : null}
        </div>

        <aside class="side">
          <section class="panel" aria-label="Labels">
            <h2>
              Labels <span class="muted">{labels.length}</span>
            </h2>
            {!labels.length ? <p class="muted">No labels.</p> : null}
            <ul class="label-list" data-testid="labels">
              {names.map((name) => {
                const ls = labels.filter((l) => l.name === name);
                const on = !hidden.has(name);
                return (
                  <li key={name}>
                    <label>
                      <input
                        type="checkbox"
                        checked={on}
                        aria-label={`Show ${name}`}
                        onChange={() =>
                          setHidden((s) => {
                            const n = new Set(s);
                            if (on) n.add(name);
                            else n.delete(name);
                            return n;
                          })
                        }
                      />
                      <span class="swatch" style={{ background: colorOf(name) }} />
                      <span class="label-name">{name}</span>
                    </label>
                    <span class="muted small">
                      {summarize(ls)}
                    </span>
                  </li>
                );
              })}
            </ul>
          </section>

          <section class="panel" aria-label="Tag scores">
            <h2>Tag scores</h2>
            <ScoreTable scores={scores} dataset={dataset} />
          </section>

          <section class="panel" aria-label="Details">
            <h2>Details</h2>
            <dl class="kv">
              <dt>Path</dt>
              <dd class="mono break">{item.path}</dd>
              <dt>Modality</dt>
              <dd>{item.modality}</dd>
              {Object.entries(item.metadata ?? {}).map(([k, v]) => (
                <>
                  <dt key={`k${k}`}>{k}</dt>
                  <dd key={`v${k}`} class="break">
                    {typeof v === "object" ? JSON.stringify(v) : String(v)}
                  </dd>
                </>
              ))}
            </dl>
          </section>
        </aside>
      </div>

      <Similar id={item.id} dataset={dataset} />
    </section>
  );
}

function summarize(ls: Label[]): string {
  const kinds = new Map<string, number>();
  for (const l of ls) kinds.set(l.kind, (kinds.get(l.kind) ?? 0) + 1);
  const parts = [...kinds].map(([k, n]) => `${n} × ${k}`);
  const src = [...new Set(ls.map((l) => l.source))].join(", ");
  const sc = ls.find((l) => l.score !== null)?.score;
  return `${parts.join(", ")} · ${src}${sc != null ? ` · ${fmtScore(sc, 2)}` : ""}`;
}

function Shape({
  label,
  w,
  h,
  active,
  onHover,
}: {
  label: Label;
  w: number;
  h: number;
  active: boolean;
  onHover: (on: boolean) => void;
}) {
  const g = label.geometry as Record<string, unknown> | null;
  const mask = useMemo(() => (g && g.rle ? rleToDataUrl(g.rle, colorOf(label.name)) : null), [g]);
  if (!g) return null;
  const color = colorOf(label.name);
  const common = {
    class: `shape${active ? " active" : ""}`,
    style: { "--c": color },
    onMouseEnter: () => onHover(true),
    onMouseLeave: () => onHover(false),
    "data-label": label.name,
  };
  const title = <title>{`${label.name} (${label.kind}, ${label.source}${label.score != null ? `, ${fmtScore(label.score, 2)}` : ""})`}</title>;
  const stroke = Math.max(2, Math.round(Math.max(w, h) / 300));
  if (Array.isArray(g.bbox)) {
    const [x, y, bw, bh] = g.bbox as number[];
    return (
      <g {...common} data-testid="box">
        {title}
        <rect x={x} y={y} width={bw} height={bh} stroke-width={stroke} />
        <text x={x + stroke} y={Math.max(y - stroke, 12 * (w / 640))} font-size={Math.max(12, w / 50)}>
          {label.name}
        </text>
      </g>
    );
  }
  if (Array.isArray(g.polygons) || Array.isArray(g.points)) {
    const parts = (Array.isArray(g.polygons) ? g.polygons : [g.points]) as number[][];
    const d = parts
      .filter((p) => Array.isArray(p) && p.length >= 4)
      .map((p) => {
        const flat = typeof p[0] === "number" ? p : (p as unknown as number[][]).flat();
        let s = `M${flat[0]},${flat[1]}`;
        for (let i = 2; i + 1 < flat.length; i += 2) s += `L${flat[i]},${flat[i + 1]}`;
        return label.kind === "polyline" ? s : `${s}Z`;
      })
      .join(" ");
    return (
      <g {...common} data-testid={label.kind === "polyline" ? "polyline" : "polygon"}>
        {title}
        <path d={d} fill-rule="evenodd" stroke-width={stroke} class={label.kind === "polyline" ? "open" : ""} />
      </g>
    );
  }
  if (mask) {
    return (
      <g {...common} data-testid="mask">
        {title}
        <image href={mask} x={0} y={0} width={w} height={h} preserveAspectRatio="none" opacity={0.45} />
      </g>
    );
  }
  return null;
}

export function ScoreTable({ scores, dataset }: { scores: Record<string, number>; dataset: string }) {
  const rows = Object.entries(scores ?? {}).sort((a, b) => b[1] - a[1]);
  if (!rows.length) return <p class="muted">No tag has scored this item yet.</p>;
  return (
    <table class="scores" data-testid="tag-scores">
      <tbody>
        {rows.map(([key, s]) => {
          const [group, tag] = key.includes("/") ? key.split("/") : ["", key];
          return (
            <tr key={key}>
              <td>
                {group ? (
                  <a href={href("d", dataset, "tags", group, tag)}>
                    <span class="muted">{group} / </span>
                    {tag}
                  </a>
                ) : (
                  tag
                )}
              </td>
              <td class="score-cell">
                <span class="minibar" aria-hidden="true">
                  <span style={{ width: `${Math.round(s * 100)}%` }} />
                </span>
                <span class="mono">{fmtScore(s)}</span>
              </td>
            </tr>
          );
        })}
      </tbody>
    </table>
  );
}

function Similar({ id, dataset }: { id: number; dataset: string }) {
  const [spaces, setSpaces] = useState<Space[]>([]);
  const [space, setSpace] = useState<string>("");
  const [hits, setHits] = useState<Hit[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  useEffect(() => {
    api.dataset(dataset).then(
      (d) => {
        setSpaces(d.spaces);
        if (!space && d.spaces[0]) setSpace(d.spaces[0].name);
        if (!d.spaces.length) setHits([]);
      },
      () => setHits([]),
    );
  }, [dataset]);
  useEffect(() => {
    if (!space) return;
    setHits(null);
    setError(null);
    api.similar(id, { k: 13, space }).then(
      (h) => setHits(h.filter((x) => x.item_id !== id).slice(0, 12)),
      (e) => {
        setError(errorText(e));
        setHits([]);
      },
    );
  }, [id, space]);
  return (
    <section class="panel similar" aria-label="Similar items" data-testid="similar">
      <header class="panel-head">
        <h2>Similar items</h2>
        {spaces.length > 1 ? (
          <select aria-label="Embedding space" value={space} onChange={(e) => setSpace((e.target as HTMLSelectElement).value)}>
            {spaces.map((s) => (
              <option key={s.name} value={s.name}>
                {s.name} ({s.kind})
              </option>
            ))}
          </select>
        ) : null}
      </header>
      <ErrorBox error={error} />
      {hits === null ? (
        <Spinner />
      ) : !hits.length && !error ? (
        <Empty>{spaces.length ? "No similar items." : "No embeddings yet: run tagscope embed."}</Empty>
      ) : (
        <div class="thumb-grid small">
          {hits.map((h) => (
            <Thumb key={h.item_id} id={h.item_id} src={h.thumbnail_url} score={h.score} title={h.path.split("/").pop()} />
          ))}
        </div>
      )}
    </section>
  );
}
