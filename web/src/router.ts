// Hash-based routing: `#/d/<dataset>/grid?where=...` -> { parts: ["d", "<dataset>", "grid"], q }.
import { useEffect, useState } from "preact/hooks";

export interface Route {
  parts: string[];
  q: URLSearchParams;
}

export function parseHash(hash: string = location.hash): Route {
  const raw = hash.replace(/^#\/?/, "");
  const i = raw.indexOf("?");
  const path = i >= 0 ? raw.slice(0, i) : raw;
  const q = new URLSearchParams(i >= 0 ? raw.slice(i + 1) : "");
  const parts = path
    .split("/")
    .filter(Boolean)
    .map((p) => {
      try {
        return decodeURIComponent(p);
      } catch {
        return p;
      }
    });
  return { parts, q };
}

/** The hash of a route: `href("d", ds, "grid", { where })` -> `#/d/ds/grid?where=...`. */
export function href(...args: (string | number | Record<string, unknown>)[]): string {
  let params: Record<string, unknown> | null = null;
  if (args.length && typeof args[args.length - 1] === "object") {
    params = args.pop() as Record<string, unknown>;
  }
  const path = (args as (string | number)[]).map((p) => encodeURIComponent(String(p))).join("/");
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params ?? {})) {
    if (v !== undefined && v !== null && v !== "") q.set(k, String(v));
  }
  const qs = q.toString();
  return `#/${path}${qs ? `?${qs}` : ""}`;
}

export function navigate(to: string, replace = false): void {
  if (replace) {
    history.replaceState(null, "", to);
    window.dispatchEvent(new HashChangeEvent("hashchange"));
  } else {
    location.hash = to.replace(/^#/, "");
  }
}

export function useRoute(): Route {
  const [route, setRoute] = useState(() => parseHash());
  useEffect(() => {
    const on = () => setRoute(parseHash());
    window.addEventListener("hashchange", on);
    return () => window.removeEventListener("hashchange", on);
  }, []);
  return route;
}
