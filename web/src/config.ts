// The server's defaults (preview size, search k, ...) and configuration (is an LLM judge set up?),
// read once from GET /api/config: pages never hard-code them.
import { useEffect, useState } from "preact/hooks";
import { api, type Config } from "./api";

export function useConfig(): Config | null {
  const [config, setConfig] = useState<Config | null>(null);
  useEffect(() => {
    let alive = true;
    api.config().then(
      (c) => alive && setConfig(c),
      () => undefined,
    );
    return () => {
      alive = false;
    };
  }, []);
  return config;
}
