// The REST API, typed. The web app talks to the server only through this module.

export interface ApiErrorBody {
  status: number;
  message: string;
  field: string | null;
  /** The item ids the refusal is about (a 409 of an undo: the items changed since). */
  items?: number[];
  /** A 429's Retry-After, in seconds (a login locked out after failures). */
  retry_after_s?: number | null;
}

export class ApiError extends Error {
  status: number;
  field: string | null;
  items: number[];
  retryAfterS: number | null;
  constructor(body: ApiErrorBody) {
    super(body.message);
    this.status = body.status;
    this.field = body.field;
    this.items = body.items ?? [];
    this.retryAfterS = body.retry_after_s ?? null;
  }
}

/** Who the caller is (GET /api/auth/me); `auth` false: a --no-auth server, everything allowed. */
export interface Me {
  auth: boolean;
  user: string | null;
  /** The workspace-wide role (null: only roles on some datasets). */
  role: string | null;
  /** Sent back in X-CSRF-Token on every state-changing request. */
  csrf_token: string | null;
  workspace_actions: string[];
  datasets: Record<string, { role: string | null; actions: string[] }>;
}

export interface Dataset {
  id: number;
  name: string;
  description: string;
  n_items: number;
}

export interface Space {
  name: string;
  kind: string;
  model: string;
  dim: number;
  n_vectors: number;
  /** Compares what pictures show (clip, text); false for phash, which finds copies. */
  semantic: boolean;
}

export interface DatasetInfo extends Dataset {
  labels: Record<string, number>;
  spaces: Space[];
  /** The server's choice: the first semantic space, else any. */
  default_space: string | null;
}

/** The server's defaults and configuration (GET /api/config): the app never hard-codes them. */
export interface Config {
  preview_size: number;
  search_k: number;
  similar_k: number;
  duplicates_k: number;
  near_duplicate_kinds: string[];
  llm: { configured: boolean; how_to: string };
  /** A local Segment Anything model (none ships: available false). */
  segment_anything?: { available: boolean; how_to: string };
}

/** A query model the server loads in the background after it starts. */
export interface ModelState {
  kind: string;
  model: string | null;
  status: "loading" | "ready" | "error";
  error: string | null;
}

/** A tag's score of an item, decided by the server at the tag's current threshold. */
export interface TagScore {
  group: string;
  tag: string;
  score: number;
  threshold: number;
  decision: boolean;
  /** Its reference in SQL filters: tags_<group>.<column>. */
  column: string;
}

export interface Media {
  size: number;
  width: number;
  height: number;
  format: string;
}

export interface Item {
  id: number;
  dataset_id: number;
  path: string;
  name: string;
  modality: string;
  media: Media | null;
  text: string | null;
  split: string | null;
  metadata: Record<string, unknown>;
  thumbnail_url: string;
  media_url: string;
}

export interface GridItem extends Item {
  labels: string[];
  tag_scores: TagScore[];
  /** The titles of the static collections it is in. */
  collections: string[];
}

export interface GridPage {
  items: GridItem[];
  total: number;
  next_cursor: string | null;
}

export interface Label {
  kind: string;
  name: string;
  source: string;
  is_main: boolean;
  score: number | null;
  geometry: Record<string, unknown> | null;
  attributes: Record<string, unknown>;
}

export interface ItemDetail {
  item: Item;
  dataset: string;
  labels: Label[];
  tag_scores: TagScore[];
}

export interface Hit {
  item_id: number;
  path: string;
  score: number;
  thumbnail_url: string;
  media_url: string;
  labels?: string[];
}

export interface PairHit {
  a: Hit;
  b: Hit;
  score: number;
}

export interface Job {
  id: number;
  kind: string;
  status: string;
  dataset_id: number | null;
  n_done: number;
  n_total: number;
  progress: number;
  params: Record<string, unknown>;
  result: Record<string, unknown>;
  error: string | null;
}

export interface Prompt {
  id: number | null;
  text: string;
  polarity: string;
  modality: string;
}

export interface Example {
  item_id: number;
  polarity: "positive" | "negative";
}

export interface Tag {
  id: number | null;
  name: string;
  threshold: number;
  revision: number;
  is_autotag: boolean;
  prompts: Prompt[];
  examples: Example[];
}

/** Prompt suggestions (F-30): from the LLM endpoint, or phrases of the dataset's own texts. */
export interface PromptSuggestions {
  tag: string;
  modality: string;
  source: "llm" | "dataset";
  model: string;
  space: string | null;
  suggestions: { text: string; score: number | null; item_ids: number[] }[];
}

export interface Scoring {
  status: string; // unscored | queued | scoring | scored | error
  job_id: number | null;
  version: number | null;
}

export interface TagGroup {
  id: number;
  name: string;
  slug: string;
  table: string;
  dataset: string;
  space: string;
  visibility: string;
  state: string;
  version: number;
  tags: Tag[];
  scoring?: Scoring | null;
  /** Scored tag -> its reference in SQL filters (in a dataset's listing). */
  columns?: Record<string, string>;
}

export interface GroupUse {
  dataset: string;
  status: string;
  version: number | null;
  update_available: boolean;
  job_id: number | null;
}

export interface SqlTable {
  name: string;
  columns: string[];
}

/** GET /api/datasets/{ds}/videos/{id}: a video with its parts, times in milliseconds. */
export interface VideoShot {
  id: number;
  index: number;
  start_ms: number;
  end_ms: number;
  keyframe_indexes: number[];
}

export interface VideoKeyframe {
  id: number;
  index: number;
  time_ms: number;
  shot_id: number | null;
  thumbnail_url: string;
}

export interface VideoCue {
  id: number;
  index: number;
  start_ms: number;
  end_ms: number;
  text: string;
  shot_id: number | null;
}

export interface VideoDetail {
  video: Item;
  dataset: string;
  duration_ms: number;
  shots: VideoShot[];
  keyframes: VideoKeyframe[];
  cues: VideoCue[];
}

export interface Scored {
  item_id: number;
  score: number;
  thumbnail_url: string;
  /** In a preview: the item's text (a cue's words), and for a part of a video its video and times. */
  text?: string | null;
  video_id?: number | null;
  start_ms?: number | null;
  end_ms?: number | null;
}

/** The score tables a preview can show: frames (keyframes and images), shots, videos, cues. */
export type ScoreModality = "visual" | "shot" | "video" | "transcript";

export interface Preview {
  threshold: number;
  stratified: boolean;
  live: boolean;
  n_positive: number | null;
  n_negative: number | null;
  positives: Scored[];
  negatives: Scored[];
}

export interface HistogramBin {
  lo: number;
  hi: number;
  count: number;
  where: string;
}

export interface Histogram {
  bins: HistogramBin[];
  where_tagged: string | null;
  n_below: number;
  n_items: number;
}

export const METRICS = ["f1", "f0_5", "precision", "recall", "accuracy"] as const;
export type MetricName = (typeof METRICS)[number];

export interface Metrics {
  thresholds: number[];
  curves: Record<MetricName, number[]>;
  recommended: { metric: string; threshold: number };
  n_positive: number;
  n_negative: number;
}

export interface ReviewItem {
  item_id: number;
  label: boolean;
  source: "person" | "llm";
  reason: string | null;
  path: string;
  text: string | null;
  thumbnail_url: string;
}

export interface SqlResult {
  columns: string[];
  rows: unknown[][];
  n_rows: number;
  truncated: boolean;
  elapsed_ms: number | null;
}

/** One item's record before and after a change-set (null: there was none). */
export interface Change {
  item_id: number;
  /** The kind of record: review, example, ... */
  entity: string;
  key: string;
  before: Record<string, unknown> | null;
  after: Record<string, unknown> | null;
}

/** A change-set of the dataset's history: who changed what, when, and on which items. */
export interface ChangeSet {
  id: number;
  actor: string;
  created_at: string;
  action: string;
  params: Record<string, unknown>;
  target: Record<string, unknown>;
  n_changes: number;
  undoes: number | null;
  undone_by: number | null;
  /** Only on a single read. */
  changes: Change[];
}

export interface UndoResult {
  change_set: ChangeSet;
  n_restored: number;
  /** Items changed since, left as they are (a forced undo). */
  skipped: number[];
}

/** The History page's filters: one user's change-sets, those made at or after a time (ISO 8601). */
export interface HistoryFilters {
  actor?: string;
  since?: string;
}

/** What undoing all of one user's change-sets since a time did (or, on a dry run, would undo). */
export interface UndoUserResult {
  /** The change-sets undone, newest first. */
  undone: number[];
  /** The compensating change-set of each (none on a dry run). */
  change_sets: number[];
  n_restored: number;
  skipped: number[];
  dry_run: boolean;
}

/** An embedding space's 2-D map of a dataset. */
export interface MapInfo {
  space: string;
  n_points: number;
  n_items: number;
  /** Items were added since: computing again places them. */
  stale: boolean;
  created_at: string;
  params: Record<string, unknown>;
}

export interface MapPoints {
  space: string;
  n: number;
  ids: number[];
  x: number[];
  y: number[];
  bounds: [number, number, number, number];
}

/** One value per point of the map (aligned with its ids). */
export interface MapColors {
  by: string;
  kind: "category" | "number";
  values: (number | string | null)[];
  categories?: string[];
}

/** A static collection (a list of items) or a dynamic one (a saved grid filter). */
export interface Collection {
  id: number;
  title: string;
  description: string;
  kind: "static" | "dynamic";
  filter: string | null;
  created_at: string;
  /** null: a dynamic collection the listing did not evaluate. */
  n_items: number | null;
}

export interface NewCollection {
  title: string;
  description?: string;
  /** A grid filter: a dynamic collection. */
  where?: string;
  /** Item ids: a static collection. */
  item_ids?: number[];
}

export interface SearchOptions {
  space?: string;
  /** Hits to return; the server's default (GET /api/config) when left out. */
  k?: number;
  min_score?: number | null;
  labels?: string[];
  label_mode?: "any" | "all";
}

// -- labels: ontology, bulk classify, label jobs, review ---------------------------------------

export interface OntologyClass {
  id: number;
  name: string;
  color: string;
  hotkey: string | null;
  n_labels: number;
}

export interface OntologyQuestion {
  id: number;
  name: string;
  kind: "radio" | "checklist" | "text";
  options: string[];
  required: boolean;
}

export interface Ontology {
  classes: OntologyClass[];
  questions: OntologyQuestion[];
}

/** An answer to an ontology question: one option (radio), options (checklist), text. */
export type Answer = string | string[];

export interface BulkClassify {
  /** The class (a label name; a new name makes a new class). */
  label: string;
  collection?: string;
  item_ids?: number[];
  answers?: Record<string, Answer>;
  overwrite: boolean;
  dry_run: boolean;
}

export interface BulkResult {
  n_changed: number;
  n_skipped: number;
  /** reason -> number of items skipped */
  skipped: Record<string, number>;
  change_set: number | null;
  dry_run: boolean;
}

export interface LabelJob {
  id: number;
  name: string;
  kind: string;
  status: string;
  collection: string | null;
  /** auto: its source and n_prelabels; manual: the matching's iou once submitted. */
  params: Record<string, unknown>;
  assignees: string[];
  created_by: string;
  created_at: string;
  submitted_at: string | null;
  n_items: number | null;
  n_done: number | null;
  /** Its label changes per kind (unchanged, class_changed, ...), once submitted. */
  changes: Record<string, number>;
}

export const REVIEW_TABS = ["pending", "accepted", "rejected"] as const;
export type ReviewStatus = (typeof REVIEW_TABS)[number];

export interface ReviewCell {
  expert_class: string | null;
  class_changed: boolean;
  pending: number;
  accepted: number;
  rejected: number;
}

export interface ReviewSummary {
  tabs: Record<ReviewStatus, number>;
  table: ReviewCell[];
  changes: Record<string, number>;
}

/** A label of a label change, as it was when the job was submitted. */
export interface ChangeLabel {
  kind: string;
  name: string;
  geometry: Record<string, unknown> | null;
  area?: number | null;
  attributes?: Record<string, unknown>;
}

export interface LabelChange {
  id: number;
  item_id: number;
  path: string;
  thumbnail: string;
  width: number | null;
  height: number | null;
  change: string;
  label_kind: string;
  expert_class: string | null;
  prelabel_class: string | null;
  iou: number | null;
  expert_area: number | null;
  prelabel_area: number | null;
  adjustment: number | null;
  status: ReviewStatus;
  expert: ChangeLabel | null;
  prelabel: ChangeLabel | null;
}

/** The filters of /review/changes and of a decision on many changes. */
export interface ReviewFilters {
  status?: ReviewStatus;
  expert_class?: string;
  class_changed?: boolean;
  change?: string;
  min_area?: number;
  max_area?: number;
  min_adjustment?: number;
  max_adjustment?: number;
  group_by?: "class" | "class_changed";
}

// -- models: classifiers and detectors trained on the dataset's labels ------------------------

export const MODEL_KINDS = ["single-label", "multi-label", "detector"] as const;
export type ModelKind = (typeof MODEL_KINDS)[number];

/** One epoch of a training run (validation values null where there is no validation set). */
export interface EpochRow {
  epoch: number;
  train_loss: number | null;
  val_loss: number | null;
  /** Accuracy (single-label) or mAP (multi-label, detector). */
  train_metric: number | null;
  val_metric: number | null;
  seconds: number;
}

export interface Model {
  name: string;
  dataset: string;
  kind: ModelKind;
  /** The embedding space it learns on (null: a detector, which learns on pixels). */
  space: string | null;
  status: "training" | "ready" | "failed";
  classes: string[];
  thresholds: Record<string, number>;
  optimized_thresholds: Record<string, number>;
  params: Record<string, unknown>;
  /** map, accuracy, best_epoch, stop_reason, n_train, n_val, skipped_classes. */
  metrics: Record<string, unknown>;
  history: EpochRow[];
  job_id: number | null;
  error: string | null;
  created_by: string | null;
  created_at: string;
  updated_at: string;
  version: number;
}

export interface TrainModel {
  name: string;
  kind: ModelKind;
  space?: string;
  where?: string;
  /** A fraction of the labelled items, or "split": the items whose split is validation. */
  validation?: number | "split";
  learning_rate?: number;
  time_limit?: number;
  patience?: number;
  max_epochs?: number;
  hidden?: number;
  background?: boolean;
  size?: "small" | "medium" | "large";
  /** CLIP-space classifiers: fine-tune the image tower with the head (a GPU when there is one). */
  fine_tune?: boolean;
  restart?: boolean;
}

export interface ClassCurve {
  thresholds: number[];
  precision: number[];
  recall: number[];
  f1: number[];
}

export interface ClassStatistics {
  /** AP (classifiers; AP@[.5:.95] for detectors); `ap50` of detectors. */
  ap: number | null;
  ap50?: number | null;
  n_positive?: number;
  /** Detectors: the true boxes of the class. */
  n_truth?: number;
  /** The threshold of maximum F1. */
  best_threshold: number;
  curve: ClassCurve;
}

export interface ModelStatistics {
  classes: string[];
  per_class: Record<string, ClassStatistics>;
  map: number | null;
  map50?: number | null;
  accuracy?: number | null;
  /** k x k: rows the truth, columns the predicted class. */
  confusion_matrix?: number[][] | null;
}

export interface PredictedBox {
  class: string;
  score: number;
  /** [x, y, w, h] in pixels of the original image. */
  bbox: [number, number, number, number];
}

export interface PredictionRow {
  item_id: number;
  split: string | null;
  truth: string[];
  predicted: string[];
  scores: Record<string, number> | null;
  boxes: PredictedBox[] | null;
  wrong: boolean;
}

export interface PredictionPage {
  total: number;
  rows: PredictionRow[];
}

export interface ImagePrediction {
  file?: string;
  item_id?: number;
  scores?: Record<string, number>;
  boxes?: PredictedBox[];
  predicted: string[];
}

export interface PredictionResult {
  dataset: string;
  model: string;
  kind: ModelKind;
  checkpoint: string;
  predictions: ImagePrediction[];
}

// -- transport -----------------------------------------------------------------------------

const enc = encodeURIComponent;

function query(params: Record<string, unknown>): string {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) {
    if (v === undefined || v === null || v === "") continue;
    if (Array.isArray(v)) v.forEach((x) => q.append(k, String(x)));
    else q.set(k, String(v));
  }
  const s = q.toString();
  return s ? `?${s}` : "";
}

// The session: the CSRF token every state-changing request carries, and who hears of a 401 (go
// to the login page) or a 403 (say what the role lacks).
let csrfToken: string | null = null;
export function setCsrfToken(token: string | null): void {
  csrfToken = token;
}
type Refusal = (e: ApiError, url: string) => void;
const refusals = new Set<Refusal>();
/** Calls `fn` on every 401 and 403 answer (but those of logging in); returns the unsubscriber. */
export function onRefusal(fn: Refusal): () => void {
  refusals.add(fn);
  return () => refusals.delete(fn);
}
const AUTH_URLS = ["/api/auth/login", "/api/auth/me"];

async function request<T>(method: string, url: string, body?: unknown): Promise<T> {
  const init: RequestInit = { method, headers: { Accept: "application/json" } };
  if (csrfToken && method !== "GET" && method !== "HEAD")
    (init.headers as Record<string, string>)["X-CSRF-Token"] = csrfToken;
  if (body instanceof FormData) init.body = body;
  else if (body !== undefined) {
    init.body = JSON.stringify(body);
    (init.headers as Record<string, string>)["Content-Type"] = "application/json";
  }
  let res: Response;
  try {
    res = await fetch(url, init);
  } catch (e) {
    throw new ApiError({ status: 0, message: `cannot reach the server (${e})`, field: null });
  }
  if (res.status === 204) return undefined as T;
  const text = await res.text();
  let data: unknown = null;
  try {
    data = text ? JSON.parse(text) : null;
  } catch {
    data = null;
  }
  if (!res.ok) {
    const b = (data ?? {}) as Partial<ApiErrorBody> & { detail?: unknown };
    const message =
      typeof b.message === "string"
        ? b.message
        : typeof b.detail === "string"
          ? b.detail
          : `${res.status} ${res.statusText || "error"}${text && !data ? `: ${text.slice(0, 200)}` : ""}`;
    const items = Array.isArray(b.items) ? b.items.filter((i) => typeof i === "number") : undefined;
    const retry = Number(res.headers.get("Retry-After"));
    const error = new ApiError({
      status: res.status,
      message,
      field: b.field ?? null,
      items,
      retry_after_s: res.status === 429 && retry > 0 ? retry : null,
    });
    if ((res.status === 401 || res.status === 403) && !AUTH_URLS.includes(url))
      refusals.forEach((fn) => fn(error, url));
    throw error;
  }
  return data as T;
}

const get = <T>(url: string) => request<T>("GET", url);
const post = <T>(url: string, body?: unknown) => request<T>("POST", url, body ?? {});

// -- shape helpers (tolerate a few spellings of the same answer) -----------------------------

type Loose = Record<string, unknown>;

function asList<T>(data: unknown, ...keys: string[]): T[] {
  if (Array.isArray(data)) return data as T[];
  const o = (data ?? {}) as Loose;
  for (const k of keys) if (Array.isArray(o[k])) return o[k] as T[];
  return [];
}

function num(v: unknown, fallback = 0): number {
  return typeof v === "number" && Number.isFinite(v) ? v : fallback;
}

function hit(h: Loose): Hit {
  const id = num(h.item_id ?? h.id ?? (h.item as Loose | undefined)?.id);
  return {
    item_id: id,
    path: String(h.path ?? (h.item as Loose | undefined)?.path ?? ""),
    score: num(h.score),
    thumbnail_url: String(h.thumbnail_url ?? thumbnailUrl(id)),
    media_url: String(h.media_url ?? `/api/items/${id}/media`),
    labels: Array.isArray(h.labels) ? (h.labels as string[]) : undefined,
  };
}

function scored(h: Loose): Scored {
  const x = hit(h);
  return { item_id: x.item_id, score: x.score, thumbnail_url: x.thumbnail_url };
}

// -- datasets and items ------------------------------------------------------------------------

let configOnce: Promise<Config> | null = null;

export const api = {
  // -- the session -------------------------------------------------------------------------------
  /** 401 without a session (on a server with accounts). */
  me: () => get<Me>("/api/auth/me"),
  /** 401: wrong user name or password; 429 (`retryAfterS`): locked out after failed logins. */
  login: (name: string, password: string) => post<Me>("/api/auth/login", { name, password }),
  logout: () => post<void>("/api/auth/logout"),

  /** The server's defaults, asked once per page load. */
  config: () => (configOnce ??= get<Config>("/api/config").catch((e) => {
    configOnce = null;
    throw e;
  })),
  modelStatus: () => get<{ loading: boolean; models: ModelState[] }>("/api/models/status"),
  datasets: () => get<Dataset[]>("/api/datasets"),
  /** With `where` (a grid filter), `labels` counts only the items matching it. */
  dataset: (name: string, where?: string) =>
    get<DatasetInfo>(`/api/datasets/${enc(name)}${query({ where })}`),
  items: (
    ds: string,
    p: {
      where?: string;
      collection?: string;
      sort?: string;
      order?: string;
      limit?: number;
      cursor?: string | null;
    },
  ) => {
    const url = `/api/datasets/${enc(ds)}/items${query(p)}`;
    // index.html starts the grid's first page before this bundle has even loaded.
    const early = (window as { __gridFirstPage?: { url: string; page: Promise<unknown> } }).__gridFirstPage;
    if (early && early.url === url) {
      delete (window as { __gridFirstPage?: unknown }).__gridFirstPage;
      return (early.page as Promise<GridPage>).catch(() => get<GridPage>(url));
    }
    return get<GridPage>(url);
  },
  item: (id: number) => get<ItemDetail>(`/api/items/${id}`),

  similar: async (id: number, o: Partial<SearchOptions> = {}) =>
    asList<Loose>(
      await get(`/api/items/${id}/similar${query({ ...o, labels: o.labels })}`),
      "hits",
      "items",
    ).map(hit),

  searchText: async (ds: string, text: string, o: SearchOptions) =>
    asList<Loose>(await post(`/api/datasets/${enc(ds)}/search`, searchBody({ text }, o)), "hits").map(hit),

  searchItem: async (ds: string, item_id: number, o: SearchOptions) =>
    asList<Loose>(await post(`/api/datasets/${enc(ds)}/search`, searchBody({ item_id }, o)), "hits").map(
      hit,
    ),

  searchImage: async (ds: string, file: File, o: SearchOptions) => {
    const form = new FormData();
    form.append("file", file);
    if (o.k) form.append("k", String(o.k));
    if (o.space) form.append("space", o.space);
    if (o.min_score != null) form.append("min_score", String(o.min_score));
    for (const l of o.labels ?? []) form.append("labels", l);
    if (o.label_mode) form.append("label_mode", o.label_mode);
    return asList<Loose>(await post(`/api/datasets/${enc(ds)}/search/image`, form), "hits").map(hit);
  },

  duplicates: async (ds: string, o: Partial<SearchOptions>) =>
    asList<Loose>(await get(`/api/datasets/${enc(ds)}/duplicates${query({ ...o })}`), "pairs").map(
      (p) => ({ a: hit(p.a as Loose), b: hit(p.b as Loose), score: num(p.score) }) as PairHit,
    ),

  // -- jobs --------------------------------------------------------------------------------------
  jobs: (ds?: string) => get<Job[]>(`/api/jobs${query({ dataset: ds })}`),
  job: (id: number) => get<Job>(`/api/jobs/${id}`),

  // -- tags --------------------------------------------------------------------------------------
  video: (ds: string, id: number) => get<VideoDetail>(`/api/datasets/${enc(ds)}/videos/${id}`),
  groups: (ds: string) => get<TagGroup[]>(`/api/datasets/${enc(ds)}/tag-groups`),
  group: (name: string) => get<TagGroup>(`/api/tag-groups/${enc(name)}`),
  createGroup: (ds: string, name: string, tags: string, visibility = "secret", space?: string) =>
    post<TagGroup>(`/api/datasets/${enc(ds)}/tag-groups`, { name, tags, visibility, space: space || null }),
  addTags: (ds: string, group: string, names: string) =>
    post<TagGroup>(`${groupUrl(ds, group)}/tags`, { names }),
  setVisibility: (ds: string, group: string, visibility: string) =>
    request<TagGroup>("PATCH", groupUrl(ds, group), { visibility }),
  publish: async (ds: string, group: string, visibility?: string) =>
    jobOf(await post<Loose>(`${groupUrl(ds, group)}/publish`, visibility ? { visibility } : {})),

  addPrompt: (ds: string, g: string, t: string, text: string, polarity: string, modality: string) =>
    post<Prompt>(`${tagUrl(ds, g, t)}/prompts`, { text, polarity, modality }),
  removePrompt: (ds: string, g: string, t: string, id: number) =>
    request<void>("DELETE", `${tagUrl(ds, g, t)}/prompts/${id}`),
  suggestPrompts: (ds: string, g: string, t: string, modality: string, n = 10) =>
    get<PromptSuggestions>(`${tagUrl(ds, g, t)}/prompt-suggestions${query({ modality, n })}`),
  addSuggestions: (ds: string, g: string, t: string, texts: string[], modality: string) =>
    post<Prompt[]>(`${tagUrl(ds, g, t)}/prompt-suggestions`, { texts, modality }),
  mark: (ds: string, g: string, t: string, item_ids: number[], polarity: "positive" | "negative") =>
    post<{ n: number }>(`${tagUrl(ds, g, t)}/examples`, { item_ids, polarity }),
  unmark: (ds: string, g: string, t: string, item_ids: number[]) =>
    post<{ n: number }>(`${tagUrl(ds, g, t)}/examples/remove`, { item_ids }),
  saveThreshold: (ds: string, g: string, t: string, threshold: number) =>
    request<Tag>("PUT", `${tagUrl(ds, g, t)}/threshold`, { threshold }),

  reviews: (ds: string, g: string, t: string, source?: "person" | "llm") =>
    get<ReviewItem[]>(`${tagUrl(ds, g, t)}/reviews${source ? query({ source }) : ""}`),
  review: (ds: string, g: string, t: string, item_id: number, label: boolean) =>
    post<{ n: number }>(`${tagUrl(ds, g, t)}/reviews`, { reviews: [{ item_id, label }] }),
  removeReviews: (ds: string, g: string, t: string, item_ids: number[]) =>
    post<{ n: number }>(`${tagUrl(ds, g, t)}/reviews/remove`, { item_ids }),
  judge: async (ds: string, g: string, t: string, n: number) =>
    jobOf(await post<Loose>(`${tagUrl(ds, g, t)}/judge`, { n })),

  preview: async (
    ds: string,
    g: string,
    t: string,
    p: { threshold: number; view: string; n: number; modality?: ScoreModality },
  ) => {
    const d = (await get<Loose>(`${tagUrl(ds, g, t)}/preview${query(p)}`)) ?? {};
    const part = (h: Loose): Scored => ({
      ...scored(h),
      text: typeof h.text === "string" ? h.text : null,
      video_id: typeof h.video_id === "number" ? h.video_id : null,
      start_ms: typeof h.start_ms === "number" ? h.start_ms : null,
      end_ms: typeof h.end_ms === "number" ? h.end_ms : null,
    });
    return {
      threshold: num(d.threshold, p.threshold),
      stratified: Boolean(d.stratified),
      positives: asList<Loose>(d.positives).map(part),
      negatives: asList<Loose>(d.negatives).map(part),
      n_positive: typeof d.n_positive === "number" ? d.n_positive : null,
      n_negative: typeof d.n_negative === "number" ? d.n_negative : null,
      live: Boolean(d.live),
    } as Preview;
  },
  uncertain: async (ds: string, g: string, t: string, n: number) =>
    asList<Loose>(await get(`${tagUrl(ds, g, t)}/uncertain${query({ n })}`), "items").map(scored),

  histogram: async (ds: string, g: string, t: string, min_score: number, bins = 20) => {
    const d = (await get<Loose>(`${tagUrl(ds, g, t)}/histogram${query({ min_score, bins })}`)) ?? {};
    return {
      bins: asList<Loose>(d, "bins").map((b) => ({
        lo: num(b.lo ?? b.low ?? b.start),
        hi: num(b.hi ?? b.high ?? b.end),
        count: num(b.count ?? b.n),
        where: String(b.where ?? b.filter ?? ""),
      })),
      where_tagged: (d.where_tagged ?? d.where ?? null) as string | null,
      n_below: num(d.n_below),
      n_items: num(d.n_items),
    } as Histogram;
  },

  metrics: async (ds: string, g: string, t: string, metric = "f1") => {
    const d = (await get<Loose>(`${tagUrl(ds, g, t)}/metrics${query({ metric })}`)) ?? {};
    const src = ((d.curves as Loose) ?? d) as Loose;
    const curves = {} as Record<MetricName, number[]>;
    for (const m of METRICS) {
      const alt = m === "f0_5" ? ["f0_5", "f05", "f0.5", "f_half"] : [m];
      const v = alt.map((k) => src[k]).find(Array.isArray) as number[] | undefined;
      curves[m] = v ?? [];
    }
    const rec = (d.recommended ?? {}) as Loose;
    return {
      thresholds: asList<number>(d.thresholds),
      curves,
      recommended: {
        metric: String(rec.metric ?? metric),
        threshold: num(rec.threshold ?? d.recommended_threshold, 0.5),
      },
      n_positive: num(d.n_positive),
      n_negative: num(d.n_negative),
    } as Metrics;
  },

  uses: async (group: string) =>
    asList<Loose>(await get(`/api/tag-groups/${enc(group)}/uses`), "uses", "datasets").map(
      (u) =>
        ({
          dataset: String(u.dataset ?? u.name ?? ""),
          status: String(u.status ?? "unscored"),
          version: typeof u.version === "number" ? u.version : null,
          update_available: Boolean(u.update_available),
          job_id: typeof u.job_id === "number" ? u.job_id : null,
        }) as GroupUse,
    ),

  // -- collections -------------------------------------------------------------------------------
  collections: (ds: string) => get<Collection[]>(collectionsUrl(ds)),
  /** 409: the title is taken; 400: a filter that cannot run (the message says why). */
  createCollection: (ds: string, body: NewCollection) => post<Collection>(collectionsUrl(ds), body),
  freezeCollection: (ds: string, title: string) =>
    post<Collection>(`${collectionsUrl(ds)}/${enc(title)}/freeze`),
  deleteCollection: (ds: string, title: string) =>
    request<void>("DELETE", `${collectionsUrl(ds)}/${enc(title)}`),

  // -- embedding maps ----------------------------------------------------------------------------
  maps: (ds: string) => get<MapInfo[]>(`/api/datasets/${enc(ds)}/maps`),
  map: (ds: string, space: string) => {
    const url = `/api/datasets/${enc(ds)}/maps/${enc(space)}`;
    // index.html asks for the points of the map it opens before this bundle has loaded.
    const w = window as { __mapFirstPoints?: { url: string; points: Promise<unknown> } };
    const early = w.__mapFirstPoints;
    if (early && early.url === url) {
      delete w.__mapFirstPoints;
      return (early.points as Promise<MapPoints>).catch(() => get<MapPoints>(url));
    }
    return get<MapPoints>(url);
  },
  mapColors: (ds: string, space: string, p: { by: "label" | "tag" | "field"; group?: string; tag?: string; field?: string }) =>
    get<MapColors>(`/api/datasets/${enc(ds)}/maps/${enc(space)}/colors${query(p)}`),
  /** A job (kind `embedding_map`): fits once, then places only new items unless `refit`. */
  computeMap: async (ds: string, body: { space: string; sample?: number; refit?: boolean }) =>
    jobOf(await post<Loose>(`/api/datasets/${enc(ds)}/maps`, body)),

  // -- labels ------------------------------------------------------------------------------------
  /** The dataset's ontology; null where the server has none (404). */
  ontology: async (ds: string): Promise<Ontology | null> => {
    try {
      const d = (await get<Loose>(`/api/datasets/${enc(ds)}/ontology`)) ?? {};
      return {
        classes: asList<OntologyClass>(d.classes),
        questions: asList<Loose>(d.questions).map((q) => ({
          id: num(q.id),
          name: String(q.name),
          kind: (q.kind ?? "text") as OntologyQuestion["kind"],
          options: asList<string>(q.options),
          required: Boolean(q.required),
        })),
      };
    } catch (e) {
      if (e instanceof ApiError && e.status === 404) return null;
      throw e;
    }
  },
  /** A dry run counts; the real run is one change-set (undone on the History page). */
  bulkClassify: (ds: string, body: BulkClassify) =>
    post<BulkResult>(`/api/datasets/${enc(ds)}/bulk-classify`, body),
  /** Put items in a split (null clears it): one change-set (undone on the History page). */
  setSplit: (ds: string, item_ids: number[], split: "train" | "validation" | "test" | null) =>
    post<{ change_set: number | null; n_changed: number }>(`/api/datasets/${enc(ds)}/split`, { item_ids, split }),

  /** Every label of the item (ground truth, predictions, prelabels) with its provenance. */
  itemLabels: async (ds: string, id: number) =>
    asList<Label>(await get(`/api/datasets/${enc(ds)}/items/${id}/labels`), "labels"),
  /** Replace the item's ground-truth labels: one change-set (undone on the History page). */
  setLabels: (ds: string, id: number, labels: unknown[]) =>
    request<{ change_set: number | null; labels: Label[] }>(
      "PUT",
      `/api/datasets/${enc(ds)}/items/${id}/labels`,
      { labels },
    ),
  /** Change a class's name, colour or hotkey ("" removes the hotkey). */
  patchClass: (ds: string, cls: string, body: { name?: string; color?: string; hotkey?: string }) =>
    request<OntologyClass>("PATCH", `/api/datasets/${enc(ds)}/ontology/classes/${enc(cls)}`, body),
  /** GrabCut's mask of the object in `rect`, refined by strokes (computes, stores nothing). */
  foreground: (ds: string, id: number, body: Record<string, unknown>) =>
    post<{ mask: { size: [number, number]; counts: string | number[] }; area: number; polygons?: number[][][] | null }>(
      `/api/datasets/${enc(ds)}/items/${id}/foreground`,
      body,
    ),
  /** A label job's items (of `assignee`), in order. */
  labelJobItems: async (ds: string, job: string, assignee?: string | null) =>
    asList<{ item_id: number; assignee: string | null; done_at: string | null }>(
      await get(`${labelJobsUrl(ds)}/${enc(job)}/items${query({ assignee })}`),
      "items",
    ),
  labelJobs: async (ds: string) => asList<Loose>(await get(labelJobsUrl(ds)), "jobs").map(labelJob),
  labelJob: async (ds: string, job: string) => labelJob(await get<Loose>(`${labelJobsUrl(ds)}/${enc(job)}`)),
  reviewSummary: async (ds: string, job: string): Promise<ReviewSummary> => {
    const d = (await get<Loose>(`${reviewUrl(ds, job)}/summary`)) ?? {};
    return {
      tabs: counts(d.tabs),
      table: asList<Loose>(d.table).map((r) => ({
        expert_class: (r.expert_class ?? null) as string | null,
        class_changed: Boolean(r.class_changed),
        ...counts(r),
      })),
      changes: (d.changes ?? {}) as Record<string, number>,
    };
  },
  reviewChanges: async (ds: string, job: string, f: ReviewFilters & { limit?: number; offset?: number }) => {
    const d = (await get<Loose>(`${reviewUrl(ds, job)}/changes${query({ ...f })}`)) ?? {};
    const changes = asList<LabelChange>(d, "changes");
    return { total: num(d.total, changes.length), changes };
  },
  /** `ids` null: every change the filters select. */
  decide: (ds: string, job: string, decision: ReviewStatus, ids: number[] | null, filters: ReviewFilters = {}) =>
    post<{ change_set: number | null; n_changed: number }>(`${reviewUrl(ds, job)}/decide`, {
      decision,
      ids,
      // The order of a listing is no filter.
      ...(ids ? {} : { ...filters, group_by: undefined }),
    }),

  // -- history -----------------------------------------------------------------------------------
  history: (ds: string, limit?: number, filters: HistoryFilters = {}) =>
    get<ChangeSet[]>(`/api/datasets/${enc(ds)}/history${query({ limit, ...filters })}`),
  /** Who made the dataset's change-sets, sorted. */
  historyActors: (ds: string) => get<string[]>(`/api/datasets/${enc(ds)}/history/actors`),
  /** Undo all of `actor`'s change-sets since `since` (ISO 8601), in one go (admins); 409 (the
   * items changed since by others; nothing undone) unless `force`. `dry_run`: only which. */
  undoUser: (ds: string, actor: string, since: string, opts: { force?: boolean; dry_run?: boolean } = {}) =>
    post<UndoUserResult>(`/api/datasets/${enc(ds)}/history/undo-user`, { actor, since, ...opts }),
  changeSet: (ds: string, id: number) => get<ChangeSet>(`/api/datasets/${enc(ds)}/history/${id}`),
  /** 409 (an ApiError whose `items` are the items changed since) unless `force`. */
  undo: (ds: string, id: number, force = false) =>
    post<UndoResult>(`/api/datasets/${enc(ds)}/history/${id}/undo`, { force }),

  // -- models ----------------------------------------------------------------------------------
  models: (ds: string) => get<Model[]>(modelsUrl(ds)),
  model: (ds: string, name: string) => get<Model>(`${modelsUrl(ds)}/${enc(name)}`),
  /** 202 at once: the model (status training) and its job. */
  trainModel: (ds: string, body: TrainModel) => post<{ model: Model; job: Job }>(modelsUrl(ds), body),
  /** Training ends at the next epoch, keeping its best checkpoint. */
  stopModel: (ds: string, name: string) => post<Model>(`${modelsUrl(ds)}/${enc(name)}/stop`),
  deleteModel: (ds: string, name: string) => request<void>("DELETE", `${modelsUrl(ds)}/${enc(name)}`),
  /** null: the optimized (maximum F1) thresholds. */
  setModelThresholds: (ds: string, name: string, thresholds: Record<string, number> | null) =>
    request<Model>("PUT", `${modelsUrl(ds)}/${enc(name)}/thresholds`, { thresholds }),
  modelStatistics: async (ds: string, name: string, subset: "validation" | "train") => {
    const s = await get<ModelStatistics>(`${modelsUrl(ds)}/${enc(name)}/statistics${query({ subset })}`);
    // A detector's statistics name their classes only as the keys of per_class.
    return { ...s, classes: s.classes ?? Object.keys(s.per_class ?? {}) } as ModelStatistics;
  },
  modelPredictions: (
    ds: string,
    name: string,
    p: { subset: string; wrong?: boolean; class_name?: string; offset?: number; limit?: number },
  ) =>
    get<PredictionPage>(
      `${modelsUrl(ds)}/${enc(name)}/predictions${query({ ...p, wrong: p.wrong ? "true" : undefined })}`,
    ),
  /** `write_labels`: the predicted classes become labels of source prediction (one change-set). */
  predictItems: (ds: string, name: string, item_ids: number[], write_labels = false) =>
    post<{ predictions: ImagePrediction[]; change_set: number | null }>(
      `${modelsUrl(ds)}/${enc(name)}/predict`,
      { item_ids, write_labels },
    ),
  /** Uploaded images (multipart `files`); `last`: the latest checkpoint instead of the best. */
  predictImages: (ds: string, name: string, files: File[], last = false) => {
    const form = new FormData();
    for (const f of files) form.append("files", f);
    return post<PredictionResult>(`/api/predict/${enc(ds)}/${enc(name)}${last ? "/last" : ""}`, form);
  },

  // -- SQL ---------------------------------------------------------------------------------------
  tables: async (): Promise<SqlTable[]> =>
    asList<Loose>(await get("/api/sql/tables"), "tables").map((t) => ({
      name: String(t.name ?? t.table ?? ""),
      columns: asList<unknown>(t.columns).map((c) =>
        typeof c === "string" ? c : `${(c as Loose).name}${(c as Loose).type ? ` ${(c as Loose).type}` : ""}`,
      ),
    })),
  sql: async (sql: string, limit = 1000) => {
    const d = (await post<Loose>("/api/sql", { sql, limit })) ?? {};
    const columns = asList<unknown>(d.columns).map((c) =>
      typeof c === "string" ? c : String((c as Loose).name),
    );
    let rows = asList<unknown>(d.rows);
    if (rows.length && !Array.isArray(rows[0]))
      rows = rows.map((r) => columns.map((c) => (r as Loose)[c]));
    return {
      columns,
      rows: rows as unknown[][],
      n_rows: num(d.n_rows ?? d.row_count, rows.length),
      truncated: Boolean(d.truncated),
      elapsed_ms: typeof d.elapsed_ms === "number" ? d.elapsed_ms : null,
    } as SqlResult;
  },
};

function searchBody(q: { text?: string; item_id?: number }, o: SearchOptions): Loose {
  const body: Loose = { ...q, label_mode: o.label_mode ?? "any", labels: o.labels ?? [] };
  if (o.k) body.k = o.k;
  if (o.space) body.space = o.space;
  if (o.min_score != null) body.min_score = o.min_score;
  return body;
}

function jobOf(d: Loose): Job {
  return ((d.job as Job | undefined) ?? (d as unknown as Job)) as Job;
}

export function modelsUrl(ds: string): string {
  return `/api/datasets/${enc(ds)}/models`;
}

export function thumbnailUrl(itemId: number): string {
  return `/api/items/${itemId}/thumbnail`;
}

export function labelJobsUrl(ds: string): string {
  return `/api/datasets/${enc(ds)}/label-jobs`;
}

function reviewUrl(ds: string, job: string): string {
  return `${labelJobsUrl(ds)}/${enc(job)}/review`;
}

function counts(d: unknown): Record<ReviewStatus, number> {
  const o = (d ?? {}) as Loose;
  return { pending: num(o.pending), accepted: num(o.accepted), rejected: num(o.rejected) };
}

/** A label job, whichever of a few spellings the server gives its counts in. */
function labelJob(d: Loose): LabelJob {
  const c = (d.counts ?? {}) as Loose;
  const n = (v: unknown) => (typeof v === "number" ? v : null);
  return {
    id: num(d.id),
    name: String(d.name ?? ""),
    kind: String(d.kind ?? ""),
    status: String(d.status ?? ""),
    collection: (d.collection ?? null) as string | null,
    params: (d.params ?? {}) as Record<string, unknown>,
    assignees: asList<string>(d.assignees),
    created_by: String(d.created_by ?? ""),
    created_at: String(d.created_at ?? ""),
    submitted_at: (d.submitted_at ?? null) as string | null,
    n_items: n(d.n_items ?? c.n_items ?? c.items),
    n_done: n(d.n_done ?? c.n_done ?? c.done),
    changes: ((d.changes ?? c.changes ?? {}) as Record<string, number>) || {},
  };
}

export function collectionsUrl(ds: string): string {
  return `/api/datasets/${enc(ds)}/collections`;
}

export function groupUrl(ds: string, group: string): string {
  return `/api/datasets/${enc(ds)}/tag-groups/${enc(group)}`;
}

export function tagUrl(ds: string, group: string, tag: string): string {
  return `${groupUrl(ds, group)}/tags/${enc(tag)}`;
}

export function errorText(e: unknown): string {
  if (e instanceof ApiError) return e.field ? `${e.message}` : e.message;
  return e instanceof Error ? e.message : String(e);
}
