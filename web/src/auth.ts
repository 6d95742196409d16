// The session and what it may do: who is logged in (GET /api/auth/me), `can(action, dataset)`
// for hiding what the role cannot do, the way to the login page on a 401, and the banner of a 403.
// The server decides every permission; this only mirrors its answer so the app offers no button
// that would be refused.
import { api, ApiError, onRefusal, setCsrfToken, type Me } from "./api";
import { navigate, parseHash } from "./router";
import { store } from "./store";

/** The actions of `tagscope.service.policy.Action` the app gates controls on. */
export const A = {
  READ: "read",
  LABELS_EDIT_ASSIGNED: "labels.edit_assigned",
  REVIEW_DECIDE: "review.decide",
  TAGS_REVIEW: "tags.review",
  RESULT_SETS_EDIT: "result_sets.edit",
  DATASET_CREATE: "dataset.create",
  DATASET_EDIT: "dataset.edit",
  TAGS_EDIT: "tags.edit",
  TAGS_APPLY: "tags.apply",
  COLLECTIONS_EDIT: "collections.edit",
  ONTOLOGY_EDIT: "ontology.edit",
  LABELS_EDIT: "labels.edit",
  LABELS_BULK: "labels.bulk",
  LABEL_JOBS_MANAGE: "label_jobs.manage",
  MODELS_TRAIN: "models.train",
  HISTORY_UNDO: "history.undo",
  LABELS_EDIT_COMPLETE: "labels.edit_complete",
  DATASET_DELETE: "dataset.delete",
  HISTORY_UNDO_USER: "history.undo_user",
  USERS_MANAGE: "users.manage",
} as const;
export type Action = (typeof A)[keyof typeof A];

// The least role of each action, for the words of a disabled control's title only (policy.TABLE
// decides; a stale word here misleads a tooltip, never a permission).
const LEAST_ROLE: Record<Action, string> = {
  read: "viewer",
  "labels.edit_assigned": "annotator",
  "review.decide": "reviewer",
  "tags.review": "reviewer",
  "result_sets.edit": "reviewer",
  "dataset.create": "editor",
  "dataset.edit": "editor",
  "tags.edit": "editor",
  "tags.apply": "editor",
  "collections.edit": "editor",
  "ontology.edit": "editor",
  "labels.edit": "editor",
  "labels.bulk": "editor",
  "label_jobs.manage": "editor",
  "models.train": "editor",
  "history.undo": "editor",
  "labels.edit_complete": "admin",
  "dataset.delete": "admin",
  "history.undo_user": "admin",
  "users.manage": "admin",
};
const WORKSPACE_ACTIONS = new Set<string>([A.DATASET_CREATE, A.USERS_MANAGE]);

/** undefined: not asked yet; null: no session (the login page); else who is logged in. */
export const session = store<Me | null | undefined>(undefined);
/** The message of the last 403 answer, shown in a banner until dismissed or the page changes. */
export const denied = store<string | null>(null);
/** A failure to ask who is logged in (the server unreachable), shown instead of the app. */
export const sessionError = store<string | null>(null);

function setSession(me: Me | null): void {
  setCsrfToken(me?.csrf_token ?? null);
  session.set(me);
}

/** Asks the server who is logged in; on a 401, goes to the login page. */
export async function loadSession(): Promise<Me | null> {
  try {
    const me = await api.me();
    sessionError.set(null);
    setSession(me);
    return me;
  } catch (e) {
    if (e instanceof ApiError && e.status === 401) {
      setSession(null);
      toLogin();
      return null;
    }
    sessionError.set(e instanceof Error ? e.message : String(e));
    return session.get() ?? null;
  }
}

export async function login(name: string, password: string): Promise<Me> {
  const me = await api.login(name, password);
  denied.set(null);
  setSession(me);
  return me;
}

export async function logout(): Promise<void> {
  try {
    await api.logout();
  } finally {
    denied.set(null);
    setSession(null);
    navigate("#/login", true);
  }
}

/** The login page, remembering where the person was (`?next=`). */
export function toLogin(): void {
  const route = parseHash();
  if (route.parts[0] === "login") return;
  const here = location.hash.replace(/^#/, "");
  navigate(`#/login${here && here !== "/" ? `?next=${encodeURIComponent(here)}` : ""}`, true);
}

/** Whether the logged-in person may do `action` on dataset `ds` (the workspace when none). */
export function can(action: Action, ds?: string | null): boolean {
  const me = session.get();
  if (!me) return false;
  if (!me.auth) return true;
  if (!ds || WORKSPACE_ACTIONS.has(action)) return me.workspace_actions.includes(action);
  return me.datasets[ds]?.actions.includes(action) ?? false;
}

/** The role on dataset `ds` (else the workspace-wide role); null: none, or no accounts. */
export function roleOn(ds?: string | null): string | null {
  const me = session.get();
  if (!me?.auth) return null;
  return (ds ? me.datasets[ds]?.role : null) ?? me.role;
}

/** The title of a control the role cannot use (undefined when it can): which role it needs. */
export function whyNot(action: Action, ds?: string | null): string | undefined {
  if (can(action, ds)) return undefined;
  const role = roleOn(ds);
  const where = ds && !WORKSPACE_ACTIONS.has(action) ? ` on ${ds}` : " on the workspace";
  return `Needs the ${LEAST_ROLE[action]} role (you are ${role ?? "without a role"}${where})`;
}

// A 401 anywhere: the session ended (expired, logged out elsewhere): log in again. A 403: say so,
// and ask again what the role may do (it may have changed since the page loaded); at most every
// few seconds, so that a page refused over and over never asks in a loop.
let askedAt = 0;
onRefusal((e) => {
  if (e.status === 401) {
    setSession(null);
    toLogin();
    return;
  }
  denied.set(e.message);
  if (Date.now() - askedAt < 3000) return;
  askedAt = Date.now();
  void loadSession();
});
