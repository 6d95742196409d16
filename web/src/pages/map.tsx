// The embedding map of a dataset: a WebGL scatter of every item of one space's 2-D map (pan, zoom,
// hover shows the item), coloured by label, tag score or a metadata field, and a lasso whose
// items open in the grid or become a static collection.
import { useEffect, useMemo, useRef, useState } from "preact/hooks";
import {
  api,
  errorText,
  thumbnailUrl,
  type DatasetInfo,
  type Job,
  type MapInfo,
  type MapPoints,
  type TagGroup,
} from "../api";
import { A, can, whyNot } from "../auth";
import { Empty, ErrorBox, JobProgress, PageHead, Spinner, fmtCount } from "../components/ui";
import { watchJob } from "../jobs";
import { PointGrid, lassoSelect } from "../map/geometry";
import { plainColors, pointColors, type Legend } from "../map/colors";
import { Scatter } from "../map/scatter";
import { href, navigate } from "../router";
import { toast } from "../store";
import { SaveCollectionDialog } from "./collections";

/** Up to this many ids open in the grid as `id IN (...)`; more are saved as a collection first
 * (a URL of 10,000 ids is neither readable nor safe to send). */
const MAX_IDS_IN_URL = 1000;
/** The hover card's size in CSS px (it stays inside the map). */
const HOVER_W = 220;
const HOVER_H = 200;

type ColorBy = "none" | "label" | "tag" | "field";

export function MapPage({ ds, q }: { ds: string; q: URLSearchParams }) {
  const [maps, setMaps] = useState<MapInfo[] | null>(null);
  const [info, setInfo] = useState<DatasetInfo | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [job, setJob] = useState<Job | null>(null);
  const [newSpace, setNewSpace] = useState("");

  const reload = () =>
    api.maps(ds).then(setMaps, (e) => {
      setMaps([]);
      setError(errorText(e));
    });
  const [version, setVersion] = useState(0);
  /** A map job started here is running. */
  const [busy, setBusy] = useState(false);
  const wanted = q.get("space") ?? "";
  // With the space in the URL the points go first: the list of maps (and the dataset's spaces)
  // are asked for once they have arrived, so that the server answers the points alone.
  const [listed, setListed] = useState(false);
  const list = () => {
    if (listed) return;
    setListed(true);
    void reload();
    api.dataset(ds).then(setInfo, () => undefined);
  };
  useEffect(() => {
    if (!wanted) list();
  }, [ds, wanted]);

  const space = wanted || maps?.[0]?.space || "";
  const current = maps?.find((m) => m.space === space) ?? null;
  const spaces = info?.spaces.map((s) => s.name) ?? [];
  const chosen =
    newSpace ||
    (wanted && !current && spaces.includes(wanted) ? wanted : "") ||
    spaces.find((s) => !maps?.some((m) => m.space === s)) ||
    spaces[0] ||
    "";

  const compute = async (target: string) => {
    setError(null);
    setBusy(true);
    try {
      const j = await api.computeMap(ds, { space: target });
      setJob(j);
      const done = await watchJob(j);
      if (done.status === "done") {
        toast(`Map of ${target} computed`, "ok");
        await reload();
        setVersion((v) => v + 1);
        navigate(href("d", ds, "map", { space: target }), true);
      } else setError(done.error ?? `the map job ended ${done.status}`);
    } catch (e) {
      setError(errorText(e));
    } finally {
      setBusy(false);
    }
  };
  const mayCompute = can(A.DATASET_EDIT, ds);

  const computeBar = (
    <div class="map-compute" data-testid="map-compute">
      <select aria-label="Space to map" value={chosen} onChange={(e) => setNewSpace((e.target as HTMLSelectElement).value)}>
        {spaces.map((s) => (
          <option key={s} value={s}>
            {s}
          </option>
        ))}
      </select>
      <button
        type="button"
        class="primary"
        data-testid="compute-map"
        disabled={!mayCompute || busy || !chosen}
        title={whyNot(A.DATASET_EDIT, ds) ?? "Fit a 2-D map (UMAP) of this space, as a job"}
        onClick={() => void compute(chosen)}
      >
        Compute map
      </button>
    </div>
  );

  return (
    <section class="map-page">
      <PageHead
        title="Map"
        sub={current ? `${fmtCount(current.n_points)} items of the ${current.space} space` : "A 2-D map of an embedding space"}
      >
        {maps?.length ? (
          <label class="inline">
            <span>Space</span>
            <select
              aria-label="Space"
              data-testid="map-space"
              value={space}
              onChange={(e) => navigate(href("d", ds, "map", { space: (e.target as HTMLSelectElement).value }))}
            >
              {space && !current ? <option value={space}>{space} (no map)</option> : null}
              {maps.map((m) => (
                <option key={m.space} value={m.space}>
                  {m.space} ({fmtCount(m.n_points)})
                </option>
              ))}
            </select>
          </label>
        ) : null}
        {current?.stale ? (
          <button
            type="button"
            disabled={!mayCompute || busy}
            title={whyNot(A.DATASET_EDIT, ds) ?? "Place the items added since with the saved model"}
            onClick={() => void compute(current.space)}
          >
            Place new items
          </button>
        ) : null}
      </PageHead>
      <ErrorBox error={error} />
      {job ? <JobProgress job={job} label="Embedding map" /> : null}
      {space && (maps === null || current) ? (
        <MapView key={`${ds}/${space}/${version}`} ds={ds} space={space} onLoaded={list} />
      ) : maps === null ? (
        <Spinner />
      ) : (
        <Empty>
          <h2>{space ? `No map of the ${space} space yet` : "No map yet"}</h2>
          <p>A map places every item of an embedding space on a plane: similar items lie close.</p>
          {spaces.length ? computeBar : <p class="muted">The dataset has no embedding space: compute embeddings first.</p>}
        </Empty>
      )}
    </section>
  );
}

interface Hover {
  id: number;
  left: number;
  top: number;
}

/** `onLoaded`: the points arrived (or failed to). */
function MapView({ ds, space, onLoaded }: { ds: string; space: string; onLoaded: () => void }) {
  const canvas = useRef<HTMLCanvasElement>(null);
  const overlay = useRef<HTMLCanvasElement>(null);
  const wrap = useRef<HTMLDivElement>(null);
  const scatter = useRef<Scatter | null>(null);
  const [points, setPoints] = useState<{ data: MapPoints; xs: Float64Array; ys: Float64Array } | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [painted, setPainted] = useState(false);
  const [hover, setHover] = useState<Hover | null>(null);
  const [selected, setSelected] = useState<number[] | null>(null);
  const [saving, setSaving] = useState(false);
  const [openAfterSave, setOpenAfterSave] = useState(false);
  const [mode, setMode] = useState<"lasso" | "pan">("pan");
  const [by, setBy] = useState<ColorBy>("label");
  const [groups, setGroups] = useState<TagGroup[]>([]);
  const [group, setGroup] = useState("");
  const [tag, setTag] = useState("");
  /** The field being typed; `field` (what colours the map) once committed (Enter, blur). */
  const [fieldDraft, setFieldDraft] = useState("");
  const [field, setField] = useState("");
  const [legend, setLegend] = useState<Legend | null>(null);

  useEffect(() => {
    api
      .map(ds, space)
      .then(
        (data) => {
          performance.mark("map-points");
          setPoints({ data, xs: Float64Array.from(data.x), ys: Float64Array.from(data.y) });
        },
        (e) => setError(errorText(e)),
      )
      .finally(() => {
        onLoaded();
        // Only groups with scores here can colour the map (a draft has none to show).
        api.groups(ds).then((gs) => setGroups(gs.filter((g) => g.scoring?.status === "scored")), () => undefined);
      });
  }, [ds, space]);

  const grid = useMemo(() => (points ? new PointGrid(points.xs, points.ys, points.data.bounds) : null), [points]);

  // The renderer lives as long as the points.
  useEffect(() => {
    if (!points || !canvas.current || !overlay.current) return;
    let s: Scatter;
    try {
      s = new Scatter(canvas.current, overlay.current, {
        onFirstPaint: () => {
          performance.mark("map-first-paint");
          setPainted(true);
        },
        onHover: (at) => {
          if (!at || !grid) return setHover(null);
          const k = grid.nearest(at.x, at.y, at.radius);
          const box = wrap.current?.getBoundingClientRect();
          if (k < 0 || !box) return setHover(null);
          // Beside the cursor, on the side with room for the card.
          const x = at.clientX - box.left, y = at.clientY - box.top;
          setHover({
            id: points.data.ids[k],
            left: x + HOVER_W + 14 > box.width ? x - HOVER_W - 14 : x + 14,
            top: y + HOVER_H + 14 > box.height ? y - HOVER_H - 14 : y + 14,
          });
        },
        onLasso: (poly) => {
          const picked = lassoSelect(points.xs, points.ys, poly);
          const mask = new Uint8Array(points.xs.length);
          for (const k of picked) mask[k] = 1;
          s.setSelected(mask);
          setSelected(Array.from(picked, (k) => points.data.ids[k]).sort((a, b) => a - b));
        },
      });
    } catch (e) {
      setError(errorText(e));
      return;
    }
    s.mode = mode;
    s.setPoints(points.xs, points.ys, points.data.bounds);
    s.setColors(plainColors(points.xs.length));
    scatter.current = s;
    // For tests and benchmarks: the view, the transform and the last lasso.
    (window as unknown as { __map?: object }).__map = {
      get view() {
        return { ...s.view };
      },
      get lasso() {
        return s.lassoData.slice();
      },
      toData: (x: number, y: number) => s.toData(x, y),
      toScreen: (x: number, y: number) => s.toScreen(x, y),
    };
    return () => {
      s.destroy();
      scatter.current = null;
    };
  }, [points, grid]);

  // The renderer takes the mode at once: a drag may follow the click before any effect runs.
  const chooseMode = (m: "lasso" | "pan") => {
    setMode(m);
    if (scatter.current) scatter.current.mode = m;
  };

  // Colours: asked of the server for the chosen colouring, applied as one buffer.
  useEffect(() => {
    const s = scatter.current;
    if (!points || !s) return;
    const n = points.xs.length;
    const params =
      by === "label" ? { by } : by === "tag" && group && tag ? { by, group, tag } : by === "field" && field.trim() ? { by, field: field.trim() } : null;
    if (!params) {
      s.setColors(plainColors(n));
      setLegend(null);
      return;
    }
    let live = true;
    api.mapColors(ds, space, params).then(
      (colors) => {
        if (!live) return;
        const { rgba, legend } = pointColors(colors, n);
        scatter.current?.setColors(rgba);
        setLegend(legend);
      },
      (e) => live && setError(errorText(e)),
    );
    return () => {
      live = false;
    };
  }, [points, by, group, tag, field]);

  const clear = () => {
    scatter.current?.setSelected(null);
    scatter.current?.clearLasso();
    setSelected(null);
  };
  const openInGrid = () => {
    if (!selected) return;
    if (selected.length <= MAX_IDS_IN_URL) navigate(href("d", ds, "grid", { where: `id IN (${selected.join(", ")})` }));
    else {
      setOpenAfterSave(true);
      setSaving(true);
    }
  };
  const tags = groups.find((g) => g.name === group)?.tags ?? [];
  const n = points?.data.n ?? 0;

  return (
    <div class="map-view">
      <div class="map-toolbar">
        <div class="seg" role="group" aria-label="Mouse mode">
          <button type="button" class={mode === "lasso" ? "active" : ""} data-testid="mode-lasso" onClick={() => chooseMode("lasso")}>
            Lasso
          </button>
          <button type="button" class={mode === "pan" ? "active" : ""} data-testid="mode-pan" onClick={() => chooseMode("pan")}>
            Pan
          </button>
        </div>
        <span class="muted small">Wheel: zoom · {mode === "lasso" ? "drag: lasso, shift-drag: pan" : "drag: pan, shift-drag: lasso"}</span>
        <button type="button" class="ghost" onClick={() => points && scatter.current?.fit(points.data.bounds)}>
          Fit
        </button>
        <div class="spacer" />
        <label class="inline">
          <span>Colour by</span>
          <select aria-label="Colour by" data-testid="color-by" value={by} onChange={(e) => setBy((e.target as HTMLSelectElement).value as ColorBy)}>
            <option value="none">nothing</option>
            <option value="label">label</option>
            <option value="tag" disabled={!groups.length}>
              tag score
            </option>
            <option value="field">metadata field</option>
          </select>
        </label>
        {by === "tag" ? (
          <>
            <select aria-label="Tag group" data-testid="color-group" value={group} onChange={(e) => { setGroup((e.target as HTMLSelectElement).value); setTag(""); }}>
              <option value="">group…</option>
              {groups.map((g) => (
                <option key={g.name} value={g.name}>
                  {g.name}
                </option>
              ))}
            </select>
            <select aria-label="Tag" data-testid="color-tag" value={tag} onChange={(e) => setTag((e.target as HTMLSelectElement).value)}>
              <option value="">tag…</option>
              {tags.map((t) => (
                <option key={t.name} value={t.name}>
                  {t.name}
                </option>
              ))}
            </select>
          </>
        ) : null}
        {by === "field" ? (
          <input
            type="text"
            placeholder="field, e.g. width"
            aria-label="Metadata field"
            data-testid="color-field"
            value={fieldDraft}
            onInput={(e) => setFieldDraft((e.target as HTMLInputElement).value)}
            onChange={(e) => setField((e.target as HTMLInputElement).value)}
          />
        ) : null}
      </div>
      <ErrorBox error={error} />
      <div
        class="map-canvas-wrap"
        ref={wrap}
        data-testid="map"
        data-n-points={painted ? n : 0}
        data-painted={painted ? "true" : "false"}
        data-n-selected={selected?.length ?? 0}
        onMouseLeave={() => setHover(null)}
      >
        <canvas ref={canvas} class="map-canvas" data-testid="map-canvas" />
        <canvas ref={overlay} class="map-overlay" />
        {!points && !error ? <Spinner label="Loading the map" /> : null}
        {hover ? <HoverCard key={hover.id} hover={hover} /> : null}
        {legend ? <LegendBox legend={legend} /> : null}
      </div>
      {selected ? (
        <div class="selection-bar" role="region" aria-label="Lasso selection" data-testid="map-selection">
          <strong data-testid="map-selection-count">{fmtCount(selected.length)} selected</strong>
          <button type="button" class="ghost" onClick={clear}>
            Clear
          </button>
          <div class="spacer" />
          <button
            type="button"
            data-testid="map-open-grid"
            disabled={!selected.length || (selected.length > MAX_IDS_IN_URL && !can(A.COLLECTIONS_EDIT, ds))}
            title={
              selected.length > MAX_IDS_IN_URL
                ? `More than ${fmtCount(MAX_IDS_IN_URL)} items open as a collection: saves them as one first`
                : "Show these items in the grid"
            }
            onClick={openInGrid}
          >
            Open in the grid
          </button>
          <button
            type="button"
            class="primary"
            data-testid="map-save-collection"
            disabled={!selected.length || !can(A.COLLECTIONS_EDIT, ds)}
            title={whyNot(A.COLLECTIONS_EDIT, ds) ?? "Save the selected items as a static collection"}
            onClick={() => {
              setOpenAfterSave(false);
              setSaving(true);
            }}
          >
            Save as collection…
          </button>
        </div>
      ) : null}
      <SaveCollectionDialog
        open={saving}
        ds={ds}
        source={{ item_ids: selected ?? [] }}
        onClose={() => setSaving(false)}
        onSaved={(c) => {
          if (openAfterSave) navigate(href("d", ds, "grid", { collection: c.title }));
        }}
      />
    </div>
  );
}

/** The hovered item: its thumbnail and path (asked once per item). */
const paths = new Map<number, Promise<string>>();

function HoverCard({ hover }: { hover: Hover }) {
  const [path, setPath] = useState<string | null>(null);
  useEffect(() => {
    let p = paths.get(hover.id);
    if (!p) {
      p = api.item(hover.id).then((d) => d.item.path);
      p.catch(() => paths.delete(hover.id));
      paths.set(hover.id, p);
    }
    let live = true;
    p.then((v) => live && setPath(v), () => undefined);
    return () => {
      live = false;
    };
  }, [hover.id]);
  return (
    <div class="map-hover" data-testid="map-hover" data-item-id={hover.id} style={{ left: hover.left, top: hover.top, width: HOVER_W }}>
      <img src={thumbnailUrl(hover.id)} alt={path ?? `item ${hover.id}`} data-testid="map-hover-thumb" />
      <div class="map-hover-path" data-testid="map-hover-path">
        {path ?? `item ${hover.id}`}
      </div>
    </div>
  );
}

function LegendBox({ legend }: { legend: Legend }) {
  if (legend.kind === "number")
    return (
      <div class="map-legend" data-testid="map-legend">
        <div class="map-ramp" style={{ background: `linear-gradient(to right, ${legend.stops.join(", ")})` }} />
        <div class="map-ramp-ends">
          <span>{legend.min.toPrecision(3)}</span>
          <span>{legend.max.toPrecision(3)}</span>
        </div>
      </div>
    );
  return (
    <ul class="map-legend" data-testid="map-legend">
      {legend.entries.map((e) => (
        <li key={e.name}>
          <span class="dot" style={{ background: e.color }} />
          {e.name} <span class="muted">{fmtCount(e.count)}</span>
        </li>
      ))}
      {legend.more ? <li class="muted">+{legend.more} more</li> : null}
    </ul>
  );
}
