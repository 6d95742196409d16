// The shell: sidebar navigation, dataset picker, who is logged in, theme, job tray, and the page
// of the route; the login page instead while there is no session.
import { useEffect, useState } from "preact/hooks";
import { api, type Dataset, type Me } from "./api";
import { denied, loadSession, logout, roleOn, session, sessionError, toLogin } from "./auth";
import { JobTray, Toasts, Spinner, Empty, ErrorBox } from "./components/ui";
import { discoverJobs, jobs } from "./jobs";
import { GridPage } from "./pages/grid";
import { ItemPage } from "./pages/item";
import { SearchPage } from "./pages/search";
import { TagsPage, GroupPage } from "./pages/tags";
import { TagPage } from "./pages/tag";
import { PreviewPage } from "./pages/preview";
import { MetricsPage } from "./pages/metrics";
import { TruthPage } from "./pages/truth";
import { SqlPage } from "./pages/sql";
import { JobsPage } from "./pages/jobs";
import { HistoryPage } from "./pages/history";
import { CollectionsPage } from "./pages/collections";
import { LabelJobsPage } from "./pages/labeljobs";
import { VideoPage } from "./pages/video";
import { MapPage } from "./pages/map";
import { ModelsPage } from "./pages/models";
import { ModelPage } from "./pages/model";
import { LoginPage } from "./pages/login";
import { href, navigate, useRoute, type Route } from "./router";
import { firstScreen, firstScreenDone, store, useStore } from "./store";

export const datasets = store<Dataset[] | null>(null);

// The review page is a chunk of its own: the first screen never waits for it.
type ReviewModule = typeof import("./pages/review");
let reviewModule: Promise<ReviewModule> | null = null;

function LazyReviewPage({ ds, job }: { ds: string; job: string }) {
  const [mod, setMod] = useState<ReviewModule | null>(null);
  const [error, setError] = useState<string | null>(null);
  useEffect(() => {
    (reviewModule ??= import("./pages/review")).then(setMod, (e) => {
      reviewModule = null;
      setError(`the review page did not load (${e}); reload to try again`);
    });
  }, []);
  if (error) return <ErrorBox error={error} />;
  return mod ? <mod.ReviewPage ds={ds} job={job} /> : <Spinner />;
}
// The labeling tool too.
type LabelModule = typeof import("./pages/label");
let labelModule: Promise<LabelModule> | null = null;

function LazyLabelPage(p: { ds: string; id: number; q: URLSearchParams }) {
  const [mod, setMod] = useState<LabelModule | null>(null);
  const [error, setError] = useState<string | null>(null);
  useEffect(() => {
    (labelModule ??= import("./pages/label")).then(setMod, (e) => {
      labelModule = null;
      setError(`the labeling tool did not load (${e}); reload to try again`);
    });
  }, []);
  if (error) return <ErrorBox error={error} />;
  return mod ? <mod.LabelPage {...p} /> : <Spinner />;
}

const LAST = "tagscope.dataset";

async function loadDatasets(): Promise<void> {
  try {
    datasets.set(await api.datasets());
  } catch {
    datasets.set([]);
  }
}

function currentDataset(route: Route): string | null {
  if (route.parts[0] === "d" && route.parts[1]) return route.parts[1];
  return localStorage.getItem(LAST);
}

const NAV: [string, string, string][] = [
  ["grid", "Grid", "▦"],
  ["search", "Search", "⌕"],
  ["map", "Map", "⁘"],
  ["tags", "Tags", "◈"],
  ["collections", "Collections", "▤"],
  ["label-jobs", "Label jobs", "✎"],
  ["models", "Models", "◉"],
  ["sql", "SQL", "⌘"],
  ["jobs", "Jobs", "↻"],
  ["history", "History", "↶"],
];

type Theme = "light" | "dark" | "auto";

function useTheme(): [Theme, () => void] {
  const [theme, setTheme] = useState<Theme>(
    () => (localStorage.getItem("tagscope.theme") as Theme) || "auto",
  );
  useEffect(() => {
    document.documentElement.dataset.theme = theme;
    localStorage.setItem("tagscope.theme", theme);
  }, [theme]);
  const next = () => setTheme((t) => (t === "auto" ? "dark" : t === "dark" ? "light" : "auto"));
  return [theme, next];
}

export function App() {
  const route = useRoute();
  const me = useStore(session);
  const failed = useStore(sessionError);
  useEffect(() => {
    void loadSession();
  }, []);
  // No session: the login page, wherever the person was going.
  useEffect(() => {
    if (me === null) toLogin();
  }, [me, route.parts[0]]);

  if (route.parts[0] === "login" || me === null)
    return <LoginPage next={route.q.get("next")} me={me} />;
  if (me === undefined)
    return failed ? (
      <ErrorBox error={`cannot ask the server who is logged in: ${failed}; reload to try again`} />
    ) : (
      <Spinner label="Starting" />
    );
  return <Shell me={me} />;
}

function Shell({ me }: { me: Me }) {
  const route = useRoute();
  const list = useStore(datasets);
  const [theme, nextTheme] = useTheme();
  const ds = currentDataset(route);

  useEffect(() => {
    // Off the critical path of the first screen: the grid fetches its own items first.
    if (!(route.parts[0] === "d" && (route.parts[2] ?? "grid") === "grid")) firstScreenDone();
    void firstScreen.then(() => {
      void loadDatasets();
      void discoverJobs();
    });
    // The next person to log in sees their own datasets and jobs.
    return () => {
      datasets.set(null);
      jobs.set({});
    };
  }, []);

  // A refusal is about the page it happened on.
  useEffect(() => denied.set(null), [route.parts.join("/")]);

  useEffect(() => {
    if (ds && route.parts[0] === "d") localStorage.setItem(LAST, ds);
  }, [ds, route.parts[0]]);

  // No page named: go to the grid of the last (or first) dataset.
  useEffect(() => {
    if (route.parts.length || !list) return;
    const name = list.find((d) => d.name === ds)?.name ?? list[0]?.name;
    if (name) navigate(href("d", name, "grid"), true);
  }, [route.parts.length, list, ds]);

  const section = route.parts[0] === "d" ? route.parts[2] ?? "grid" : route.parts[0];

  return (
    <div class="shell">
      <nav class="sidebar" aria-label="Main">
        <a class="brand" href={ds ? href("d", ds, "grid") : "#/"} aria-label="Tagscope home">
          <span class="logo">T</span>
          <span class="brand-name">Tagscope</span>
        </a>
        <ul>
          {NAV.map(([key, label, icon]) => (
            <li key={key}>
              <a
                href={ds ? href("d", ds, key) : "#/"}
                class={section === key ? "active" : ""}
                aria-current={section === key ? "page" : undefined}
                data-testid={`nav-${key}`}
              >
                <span class="nav-icon" aria-hidden="true">
                  {icon}
                </span>
                <span class="nav-label">{label}</span>
              </a>
            </li>
          ))}
        </ul>
        <div class="sidebar-foot">
          <button
            type="button"
            class="ghost small"
            onClick={nextTheme}
            aria-label={`Theme: ${theme} (click to change)`}
            title="Theme"
          >
            {theme === "dark" ? "☾ Dark" : theme === "light" ? "☀ Light" : "◐ Auto"}
          </button>
          <a class="ghost small" href="/docs" target="_blank" rel="noreferrer">
            API docs
          </a>
        </div>
      </nav>
      <div class="main">
        <div class="topbar">
          <label class="ds-picker">
            <span>Dataset</span>
            <select
              aria-label="Dataset"
              data-testid="dataset-picker"
              value={ds ?? ""}
              onChange={(e) => {
                const name = (e.target as HTMLSelectElement).value;
                const sub = route.parts[0] === "d" ? route.parts[2] ?? "grid" : "grid";
                navigate(href("d", name, ["tags", "search", "map", "sql", "jobs", "history", "collections", "label-jobs", "models"].includes(sub) ? sub : "grid"));
              }}
            >
              {ds && !list?.some((d) => d.name === ds) ? <option value={ds}>{ds}</option> : null}
              {(list ?? []).map((d) => (
                <option key={d.id} value={d.name}>
                  {d.name} ({d.n_items.toLocaleString("en-US")})
                </option>
              ))}
            </select>
          </label>
          <UserBadge me={me} ds={ds} />
        </div>
        <DeniedBanner />
        <main class="content" id="content">
          <Page route={route} ds={ds} list={list} />
        </main>
      </div>
      <JobTray />
      <Toasts />
    </div>
  );
}

/** Who is logged in and their role here (on the dataset shown, else the workspace), or that the
 * server runs without accounts. */
function UserBadge({ me, ds }: { me: Me; ds: string | null }) {
  if (!me.auth)
    return (
      <span class="user-badge muted" data-testid="user-badge" title="The server was started with --no-auth">
        no accounts: local mode
      </span>
    );
  const role = roleOn(ds);
  return (
    <span class="user-badge" data-testid="user-badge">
      <span class="user-name" data-testid="user-name">
        {me.user}
      </span>
      <span class="chip chip-muted" data-testid="user-role" title={ds ? `Role on ${ds}` : "Workspace role"}>
        {role ?? "no role"}
      </span>
      <button type="button" class="ghost small" data-testid="logout" onClick={() => void logout()}>
        Log out
      </button>
    </span>
  );
}

/** The message of a 403 (which role the action needs), until dismissed or the page changes. */
function DeniedBanner() {
  const message = useStore(denied);
  if (!message) return null;
  return (
    <div class="denied-banner" role="alert" data-testid="denied">
      <strong>Not allowed</strong> <span data-testid="denied-message">{message}</span>
      <button type="button" class="icon-btn" aria-label="Dismiss" onClick={() => denied.set(null)}>
        ×
      </button>
    </div>
  );
}

function Page({ route, ds, list }: { route: Route; ds: string | null; list: Dataset[] | null }) {
  const [p0, p1, p2, p3, p4, p5] = route.parts;
  if (p0 === "items" && p1) return <ItemPage key={p1} id={Number(p1)} />;
  if (p0 === "d" && p1) {
    switch (p2 ?? "grid") {
      case "grid":
        return <GridPage key={p1} ds={p1} q={route.q} />;
      case "search":
        return <SearchPage key={p1} ds={p1} q={route.q} />;
      case "map":
        return <MapPage key={p1} ds={p1} q={route.q} />;
      case "tags":
        if (p3 && p4 && p5 === "preview")
          return <PreviewPage key={`${p3}/${p4}`} ds={p1} group={p3} tag={p4} q={route.q} />;
        if (p3 && p4 && p5 === "metrics")
          return <MetricsPage key={`${p3}/${p4}`} ds={p1} group={p3} tag={p4} />;
        if (p3 && p4 && p5 === "truth")
          return <TruthPage key={`${p3}/${p4}`} ds={p1} group={p3} tag={p4} />;
        if (p3 && p4) return <TagPage key={`${p3}/${p4}`} ds={p1} group={p3} tag={p4} q={route.q} />;
        if (p3) return <GroupPage key={p3} ds={p1} group={p3} />;
        return <TagsPage key={p1} ds={p1} q={route.q} />;
      case "sql":
        return <SqlPage ds={p1} q={route.q} />;
      case "jobs":
        return <JobsPage ds={p1} />;
      case "history":
        return <HistoryPage key={p1} ds={p1} />;
      case "collections":
        return <CollectionsPage key={p1} ds={p1} />;
      case "models":
        if (p3) return <ModelPage key={`${p1}/${p3}`} ds={p1} name={p3} />;
        return <ModelsPage key={p1} ds={p1} />;
      case "videos":
        if (p3) return <VideoPage key={`${p1}/${p3}`} ds={p1} id={Number(p3)} q={route.q} />;
        break;
      case "label":
        if (p3) return <LazyLabelPage key={`${p1}/${p3}`} ds={p1} id={Number(p3)} q={route.q} />;
        break;
      case "label-jobs":
        if (p3) return <LazyReviewPage key={`${p1}/${p3}`} ds={p1} job={p3} />;
        return <LabelJobsPage key={p1} ds={p1} />;
    }
  }
  if (p0 === "sql") return <SqlPage ds={ds} q={route.q} />;
  if (!list) return <Spinner />;
  if (!list.length)
    return (
      <Empty>
        <h2>No datasets yet</h2>
        <p>
          Import one with <code>tagscope import coco …</code> or <code>tagscope import images …</code>,
          then reload.
        </p>
      </Empty>
    );
  return <Empty>Page not found.</Empty>;
}
