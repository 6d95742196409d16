// SQL console (F-41): an editor, a results table, and clear errors for refused statements.
import { useEffect, useRef, useState } from "preact/hooks";
import { api, ApiError, errorText, type SqlResult, type SqlTable, type TagGroup } from "../api";
import { PageHead, Spinner } from "../components/ui";
import { href, navigate } from "../router";
import { sqlString } from "../sqlfilters";

const HISTORY = "tagscope.sql.history";

function examples(ds: string | null, groups: TagGroup[]): [string, string][] {
  const inDs = ds ? `\nWHERE dataset = ${sqlString(ds)}` : "";
  const out: [string, string][] = [
    ["Items per dataset", "SELECT dataset, count(*) AS n\nFROM items\nGROUP BY dataset\nORDER BY n DESC"],
    [
      "Most frequent labels",
      `SELECT l.name, count(DISTINCT l.item_id) AS n_items\nFROM labels l JOIN items i ON i.id = l.item_id${inDs.replace("dataset", "i.dataset")}\nGROUP BY l.name\nORDER BY n_items DESC\nLIMIT 20`,
    ],
    ["Largest images", `SELECT id, path, width, height\nFROM items${inDs}\nORDER BY width * height DESC\nLIMIT 20`],
  ];
  const g = groups.find((x) => x.version > 0);
  if (g) {
    out.push([
      `Tagged per tag (${g.name})`,
      `SELECT tag, count(*) AS n, sum(CASE WHEN decision THEN 1 ELSE 0 END) AS tagged, avg(score) AS mean\nFROM ${g.table}\nGROUP BY tag\nORDER BY tagged DESC`,
    ]);
    out.push([
      `Top items of a tag (${g.name})`,
      `SELECT s.item_id, i.path, s.score\nFROM ${g.table} s JOIN items i ON i.id = s.item_id\nWHERE s.tag = ${sqlString(g.tags[0]?.name ?? "")}\nORDER BY s.score DESC\nLIMIT 20`,
    ]);
  }
  return out;
}

export function SqlPage({ ds, q }: { ds: string | null; q: URLSearchParams }) {
  const [sql, setSql] = useState(() => q.get("sql") ?? localStorage.getItem("tagscope.sql.last") ?? "SELECT * FROM items LIMIT 20");
  const [result, setResult] = useState<SqlResult | null>(null);
  const [error, setError] = useState<{ message: string; status: number } | null>(null);
  const [running, setRunning] = useState(false);
  const [elapsed, setElapsed] = useState<number | null>(null);
  const [groups, setGroups] = useState<TagGroup[]>([]);
  const [history, setHistory] = useState<string[]>(() => JSON.parse(localStorage.getItem(HISTORY) ?? "[]"));
  const [tables, setTables] = useState<SqlTable[] | null>(null);
  const editor = useRef<HTMLTextAreaElement>(null);

  useEffect(() => {
    api.tables().then(setTables, () => setTables(null));
  }, []);

  useEffect(() => {
    if (ds) api.groups(ds).then(setGroups, () => setGroups([]));
  }, [ds]);
  useEffect(() => {
    const fromUrl = q.get("sql");
    if (fromUrl) setSql(fromUrl);
  }, [q.get("sql")]);

  const run = async () => {
    const text = sql.trim();
    if (!text) return;
    setRunning(true);
    setError(null);
    localStorage.setItem("tagscope.sql.last", text);
    const t0 = performance.now();
    try {
      const r = await api.sql(text);
      setResult(r);
      setElapsed(r.elapsed_ms ?? performance.now() - t0);
      const h = [text, ...history.filter((x) => x !== text)].slice(0, 20);
      setHistory(h);
      localStorage.setItem(HISTORY, JSON.stringify(h));
    } catch (e) {
      setResult(null);
      setError({ message: errorText(e), status: e instanceof ApiError ? e.status : 0 });
    } finally {
      setRunning(false);
    }
  };

  const idCol = result?.columns.findIndex((c) => c === "id" || c === "item_id") ?? -1;

  return (
    <section class="page sql-page" aria-label="SQL console">
      <PageHead
        title="SQL console"
        sub={
          <>
            Read-only SQL over <code>items</code>, <code>labels</code> and the tag score tables{" "}
            {groups.filter((g) => g.version > 0).map((g) => (
              <code key={g.id}>{g.table} </code>
            ))}
          </>
        }
      />
      <div class="sql-layout">
        <div>
          <div class="editor-wrap">
            <textarea
              ref={editor}
              class="editor mono"
              value={sql}
              rows={8}
              spellcheck={false}
              aria-label="SQL editor"
              data-testid="sql-editor"
              onInput={(e) => setSql((e.target as HTMLTextAreaElement).value)}
              onKeyDown={(e) => {
                if ((e.ctrlKey || e.metaKey) && e.key === "Enter") {
                  e.preventDefault();
                  void run();
                }
                if (e.key === "Tab") {
                  e.preventDefault();
                  const el = e.target as HTMLTextAreaElement;
                  const s = el.selectionStart;
                  setSql(sql.slice(0, s) + "  " + sql.slice(el.selectionEnd));
                  requestAnimationFrame(() => el.setSelectionRange(s + 2, s + 2));
                }
              }}
            />
            <div class="editor-bar">
              <button type="button" class="primary" onClick={run} disabled={running} data-testid="sql-run">
                {running ? "Running…" : "Run"}
              </button>
              <span class="muted small">Ctrl+Enter</span>
              <div class="spacer" />
              {result ? (
                <span class="muted small" data-testid="sql-status">
                  {result.n_rows.toLocaleString("en-US")} rows{result.truncated ? " (truncated)" : ""}
                  {elapsed !== null ? ` · ${elapsed.toFixed(0)} ms` : ""}
                </span>
              ) : null}
              {running ? <Spinner label="Running query" /> : null}
            </div>
          </div>
          {error ? (
            <div class="error-box sql-error" role="alert" data-testid="sql-error">
              <strong>{error.status === 400 ? "Refused" : error.status ? `Error ${error.status}` : "Error"}</strong>{" "}
              {error.status === 400 ? error.message.replace(/^refused:\s*/i, "") : error.message}
            </div>
          ) : null}
          {result ? (
            <div class="table-wrap" data-testid="sql-results">
              <table class="results-table">
                <thead>
                  <tr>
                    {result.columns.map((c) => (
                      <th key={c} scope="col">
                        {c}
                      </th>
                    ))}
                  </tr>
                </thead>
                <tbody>
                  {result.rows.map((row, i) => (
                    <tr key={i}>
                      {row.map((v, j) => (
                        <td key={j} class={typeof v === "number" ? "num" : ""}>
                          {j === idCol && typeof v === "number" ? <a href={href("items", v)}>{v}</a> : fmt(v)}
                        </td>
                      ))}
                    </tr>
                  ))}
                </tbody>
              </table>
              {!result.rows.length ? <p class="muted">No rows.</p> : null}
            </div>
          ) : null}
          {result && idCol >= 0 && ds && result.rows.length ? (
            <button
              type="button"
              class="ghost"
              onClick={() =>
                navigate(href("d", ds, "grid", { where: `id IN (${result.rows.slice(0, 500).map((r) => r[idCol]).join(", ")})` }))
              }
            >
              Open these items in the grid
            </button>
          ) : null}
        </div>
        <aside class="panel sql-side">
          {tables?.length ? (
            <>
              <h2>Tables</h2>
              <div class="tables" data-testid="sql-tables">
                {tables.map((t) => (
                  <details key={t.name}>
                    <summary>
                      <button
                        type="button"
                        class="link mono"
                        title={`SELECT * FROM ${t.name}`}
                        onClick={() => setSql(`SELECT *\nFROM ${t.name}\nLIMIT 100`)}
                      >
                        {t.name}
                      </button>
                    </summary>
                    <ul class="plain cols mono small">
                      {t.columns.map((c) => (
                        <li key={c}>{c}</li>
                      ))}
                    </ul>
                  </details>
                ))}
              </div>
            </>
          ) : null}
          <h2>Examples</h2>
          <ul class="plain">
            {examples(ds, groups).map(([title, text]) => (
              <li key={title}>
                <button type="button" class="link" onClick={() => setSql(text)}>
                  {title}
                </button>
              </li>
            ))}
          </ul>
          {history.length ? (
            <>
              <h2>History</h2>
              <ul class="plain history">
                {history.slice(0, 8).map((h) => (
                  <li key={h}>
                    <button type="button" class="link mono small" title={h} onClick={() => setSql(h)}>
                      {h.length > 60 ? `${h.slice(0, 60)}…` : h}
                    </button>
                  </li>
                ))}
              </ul>
            </>
          ) : null}
        </aside>
      </div>
    </section>
  );
}

function fmt(v: unknown): string {
  if (v === null || v === undefined) return "NULL";
  if (typeof v === "number") return Number.isInteger(v) ? String(v) : v.toPrecision(6).replace(/\.?0+$/, "");
  if (typeof v === "object") return JSON.stringify(v);
  return String(v);
}
