// Small shared state: a value with subscribers, and a hook to read it in components.
import { useEffect, useState } from "preact/hooks";

export interface Store<T> {
  get(): T;
  set(v: T | ((old: T) => T)): void;
  subscribe(fn: (v: T) => void): () => void;
}

export function store<T>(initial: T): Store<T> {
  let value = initial;
  const subs = new Set<(v: T) => void>();
  return {
    get: () => value,
    set(v) {
      value = typeof v === "function" ? (v as (old: T) => T)(value) : v;
      subs.forEach((fn) => fn(value));
    },
    subscribe(fn) {
      subs.add(fn);
      return () => subs.delete(fn);
    },
  };
}

export function useStore<T>(s: Store<T>): T {
  const [v, setV] = useState(s.get());
  useEffect(() => {
    setV(s.get());
    return s.subscribe(setV);
  }, [s]);
  return v;
}

// -- toasts ----------------------------------------------------------------------------------
export interface Toast {
  id: number;
  text: string;
  kind: "info" | "error" | "ok";
}

export const toasts = store<Toast[]>([]);
let toastId = 0;

export function toast(text: string, kind: Toast["kind"] = "info", ms = 4000): void {
  const id = ++toastId;
  toasts.set((t) => [...t, { id, text, kind }]);
  setTimeout(() => toasts.set((t) => t.filter((x) => x.id !== id)), ms);
}

// -- the first screen ------------------------------------------------------------------------
// Secondary requests (dataset list, jobs, label counts) wait until the first page of the grid has
// painted, so that they never compete with it for the server; at most a few seconds.
let settle: () => void = () => undefined;
export const firstScreen = new Promise<void>((resolve) => {
  settle = resolve;
  setTimeout(resolve, 2500);
});
export function firstScreenDone(): void {
  settle();
}
