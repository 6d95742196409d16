import { defineConfig } from "vite";

// `npm run dev` serves the app on :5173 and forwards /api to a running `tagscope serve`
// (TAGSCOPE_API, default http://127.0.0.1:8000). `npm run build` writes the static app that the
// FastAPI server serves at / (src/tagscope/web/dist).
const api = process.env.TAGSCOPE_API ?? "http://127.0.0.1:8000";

export default defineConfig({
  base: "/",
  oxc: { jsx: { runtime: "automatic", importSource: "preact" } },
  build: {
    outDir: "../src/tagscope/web/dist",
    emptyOutDir: true,
    target: "es2022",
    sourcemap: false,
    modulePreload: { polyfill: false },
  },
  server: { proxy: { "/api": { target: api, changeOrigin: true } } },
});
