// A small WebGL2 scatter: every point in one gl.POINTS draw call from typed-array buffers (position,
// colour, selected), pan by dragging, zoom with the wheel around the cursor, a lasso (the lasso
// mode, or shift-drag) drawn on a 2-D overlay. Redraws on requestAnimationFrame, only when something
// changed.

const VERTEX = `#version 300 es
in vec2 a_pos;
in vec4 a_color;
in float a_sel;
uniform vec2 u_center;
uniform vec2 u_scale;
uniform float u_size;
uniform float u_dim;
out vec4 v_color;
void main() {
  gl_Position = vec4((a_pos - u_center) * u_scale, 0.0, 1.0);
  gl_PointSize = a_sel > 0.5 ? u_size + 2.0 : u_size;
  v_color = vec4(a_color.rgb, a_color.a * (a_sel > 0.5 ? 1.0 : u_dim));
}`;

const FRAGMENT = `#version 300 es
precision mediump float;
in vec4 v_color;
out vec4 outColor;
void main() {
  vec2 d = gl_PointCoord - 0.5;
  if (dot(d, d) > 0.25) discard;
  outColor = v_color;
}`;

/** What the page sees of the view: data (cx, cy) at the canvas centre, `scale` CSS px per data
 * unit, the canvas size in CSS px; y grows upwards on screen. */
export interface View {
  cx: number;
  cy: number;
  scale: number;
  width: number;
  height: number;
}

export interface ScatterEvents {
  /** The cursor at (x, y) in data units, and the radius of a hit in data units; null: left. */
  onHover(at: { x: number; y: number; radius: number; clientX: number; clientY: number } | null): void;
  /** A closed lasso, in data units ([x0, y0, x1, y1, ...]). */
  onLasso(poly: number[]): void;
  /** The first frame with every point drawn. */
  onFirstPaint(): void;
}

function compile(gl: WebGL2RenderingContext, type: number, src: string): WebGLShader {
  const s = gl.createShader(type)!;
  gl.shaderSource(s, src);
  gl.compileShader(s);
  if (!gl.getShaderParameter(s, gl.COMPILE_STATUS)) throw new Error(gl.getShaderInfoLog(s) ?? "shader");
  return s;
}

export class Scatter {
  view: View = { cx: 0, cy: 0, scale: 1, width: 1, height: 1 };
  /** "pan": drag pans, shift-drag lassoes; "lasso": drag lassoes, shift-drag pans. */
  mode: "pan" | "lasso" = "pan";
  /** The lasso being drawn, in CSS px relative to the canvas. */
  lassoScreen: number[] = [];
  /** The last closed lasso, in data units (drawn where it is as the view moves). */
  lassoData: number[] = [];
  private gl: WebGL2RenderingContext;
  private program: WebGLProgram;
  private vao: WebGLVertexArrayObject;
  private buffers: { pos: WebGLBuffer; color: WebGLBuffer; sel: WebGLBuffer };
  private n = 0;
  private origin: [number, number] = [0, 0];
  private dim = 1;
  private frame = 0;
  private painted = false;
  private drag: { kind: "pan" | "lasso"; x: number; y: number } | null = null;
  private readonly overlay: CanvasRenderingContext2D;
  private readonly resize: ResizeObserver;
  private readonly off: (() => void)[] = [];

  constructor(
    private readonly canvas: HTMLCanvasElement,
    private readonly overlayCanvas: HTMLCanvasElement,
    private readonly events: ScatterEvents,
  ) {
    const gl = canvas.getContext("webgl2", { antialias: false, premultipliedAlpha: false });
    if (!gl) throw new Error("this browser has no WebGL2: the map needs it");
    this.gl = gl;
    this.overlay = overlayCanvas.getContext("2d")!;
    const p = gl.createProgram()!;
    gl.attachShader(p, compile(gl, gl.VERTEX_SHADER, VERTEX));
    gl.attachShader(p, compile(gl, gl.FRAGMENT_SHADER, FRAGMENT));
    gl.linkProgram(p);
    if (!gl.getProgramParameter(p, gl.LINK_STATUS)) throw new Error(gl.getProgramInfoLog(p) ?? "link");
    this.program = p;
    this.vao = gl.createVertexArray()!;
    gl.bindVertexArray(this.vao);
    const attr = (name: string, size: number, type: number, normalized: boolean) => {
      const b = gl.createBuffer()!;
      const loc = gl.getAttribLocation(p, name);
      gl.bindBuffer(gl.ARRAY_BUFFER, b);
      gl.enableVertexAttribArray(loc);
      gl.vertexAttribPointer(loc, size, type, normalized, 0, 0);
      return b;
    };
    this.buffers = {
      pos: attr("a_pos", 2, gl.FLOAT, false),
      color: attr("a_color", 4, gl.UNSIGNED_BYTE, true),
      sel: attr("a_sel", 1, gl.UNSIGNED_BYTE, false),
    };
    this.resize = new ResizeObserver(() => this.fitCanvas());
    this.resize.observe(canvas);
    this.fitCanvas();
    this.listen();
  }

  /** Points in data units (kept in float64 by the caller; drawn relative to their bounds' centre
   * so float32 keeps the precision). */
  setPoints(xs: Float64Array, ys: Float64Array, bounds: [number, number, number, number]): void {
    const gl = this.gl;
    this.n = xs.length;
    this.origin = [(bounds[0] + bounds[2]) / 2, (bounds[1] + bounds[3]) / 2];
    const pos = new Float32Array(2 * this.n);
    for (let k = 0; k < this.n; k++) {
      pos[2 * k] = xs[k] - this.origin[0];
      pos[2 * k + 1] = ys[k] - this.origin[1];
    }
    gl.bindBuffer(gl.ARRAY_BUFFER, this.buffers.pos);
    gl.bufferData(gl.ARRAY_BUFFER, pos, gl.STATIC_DRAW);
    this.setSelected(null);
    this.fit(bounds);
  }

  /** RGBA per point. */
  setColors(rgba: Uint8Array): void {
    const gl = this.gl;
    gl.bindBuffer(gl.ARRAY_BUFFER, this.buffers.color);
    gl.bufferData(gl.ARRAY_BUFFER, rgba, gl.STATIC_DRAW);
    this.redraw();
  }

  /** 1 per selected point; null: nothing selected (no point dimmed). */
  setSelected(mask: Uint8Array | null): void {
    const gl = this.gl;
    gl.bindBuffer(gl.ARRAY_BUFFER, this.buffers.sel);
    gl.bufferData(gl.ARRAY_BUFFER, mask ?? new Uint8Array(this.n), gl.DYNAMIC_DRAW);
    this.dim = mask ? 0.18 : 1;
    this.redraw();
  }

  /** Show the whole of `bounds`, with a margin. */
  fit(bounds: [number, number, number, number]): void {
    const w = Math.max(bounds[2] - bounds[0], 1e-9), h = Math.max(bounds[3] - bounds[1], 1e-9);
    this.view.cx = (bounds[0] + bounds[2]) / 2;
    this.view.cy = (bounds[1] + bounds[3]) / 2;
    this.view.scale = 0.92 * Math.min(this.view.width / w, this.view.height / h);
    this.redraw();
  }

  toData(sx: number, sy: number): [number, number] {
    const v = this.view;
    return [v.cx + (sx - v.width / 2) / v.scale, v.cy - (sy - v.height / 2) / v.scale];
  }

  toScreen(x: number, y: number): [number, number] {
    const v = this.view;
    return [(x - v.cx) * v.scale + v.width / 2, v.height / 2 - (y - v.cy) * v.scale];
  }

  redraw(): void {
    if (!this.frame) this.frame = requestAnimationFrame(() => this.draw());
  }

  destroy(): void {
    cancelAnimationFrame(this.frame);
    this.resize.disconnect();
    this.off.forEach((f) => f());
  }

  private fitCanvas(): void {
    const r = this.canvas.getBoundingClientRect();
    const dpr = window.devicePixelRatio || 1;
    this.view.width = Math.max(1, r.width);
    this.view.height = Math.max(1, r.height);
    for (const c of [this.canvas, this.overlayCanvas]) {
      c.width = Math.round(this.view.width * dpr);
      c.height = Math.round(this.view.height * dpr);
    }
    this.redraw();
  }

  private draw(): void {
    this.frame = 0;
    const gl = this.gl;
    const v = this.view;
    gl.viewport(0, 0, this.canvas.width, this.canvas.height);
    gl.clearColor(0, 0, 0, 0);
    gl.clear(gl.COLOR_BUFFER_BIT);
    gl.enable(gl.BLEND);
    gl.blendFunc(gl.SRC_ALPHA, gl.ONE_MINUS_SRC_ALPHA);
    gl.useProgram(this.program);
    gl.bindVertexArray(this.vao);
    const u = (name: string) => gl.getUniformLocation(this.program, name);
    gl.uniform2f(u("u_center"), v.cx - this.origin[0], v.cy - this.origin[1]);
    gl.uniform2f(u("u_scale"), (2 * v.scale) / v.width, (2 * v.scale) / v.height);
    const dpr = window.devicePixelRatio || 1;
    // Bigger points when there are few of them.
    gl.uniform1f(u("u_size"), dpr * Math.min(8, Math.max(2.5, 3 * Math.sqrt(20000 / Math.max(this.n, 1)))));
    gl.uniform1f(u("u_dim"), this.dim);
    gl.drawArrays(gl.POINTS, 0, this.n);
    if (!this.painted) performance.mark("map-drawn");
    this.drawLasso();
    if (!this.painted && this.n) {
      this.painted = true;
      // The frame after the draw call is the one on screen.
      requestAnimationFrame(() => this.events.onFirstPaint());
    }
  }

  private drawLasso(): void {
    const g = this.overlay;
    const dpr = window.devicePixelRatio || 1;
    g.setTransform(dpr, 0, 0, dpr, 0, 0);
    g.clearRect(0, 0, this.view.width, this.view.height);
    let p = this.lassoScreen;
    if (!this.drag && this.lassoData.length) {
      p = [];
      for (let i = 0; i < this.lassoData.length; i += 2)
        p.push(...this.toScreen(this.lassoData[i], this.lassoData[i + 1]));
    }
    if (p.length < 4) return;
    g.beginPath();
    g.moveTo(p[0], p[1]);
    for (let i = 2; i < p.length; i += 2) g.lineTo(p[i], p[i + 1]);
    g.closePath();
    g.fillStyle = "rgba(79, 107, 237, 0.12)";
    g.strokeStyle = "#4f6bed";
    g.lineWidth = 1.5;
    g.fill();
    g.stroke();
  }

  private local(e: MouseEvent): [number, number] {
    const r = this.canvas.getBoundingClientRect();
    return [e.clientX - r.left, e.clientY - r.top];
  }

  private listen(): void {
    const on = <K extends keyof HTMLElementEventMap>(
      target: HTMLElement | Window,
      type: K,
      fn: (e: HTMLElementEventMap[K]) => void,
      opts?: AddEventListenerOptions,
    ) => {
      target.addEventListener(type, fn as EventListener, opts);
      this.off.push(() => target.removeEventListener(type, fn as EventListener));
    };
    const c = this.canvas;
    on(c, "mousedown", (e) => {
      if (e.button !== 0) return;
      e.preventDefault();
      const [x, y] = this.local(e);
      const kind = (this.mode === "lasso") !== e.shiftKey ? "lasso" : "pan";
      this.drag = { kind, x, y };
      if (kind === "lasso") this.lassoScreen = [x, y];
      this.events.onHover(null);
    });
    on(window, "mousemove", (e) => {
      const [x, y] = this.local(e);
      const d = this.drag;
      if (!d) {
        const inside = x >= 0 && y >= 0 && x < this.view.width && y < this.view.height;
        if (!inside) return this.events.onHover(null);
        const [dx, dy] = this.toData(x, y);
        return this.events.onHover({ x: dx, y: dy, radius: 8 / this.view.scale, clientX: e.clientX, clientY: e.clientY });
      }
      if (d.kind === "pan") {
        this.view.cx -= (x - d.x) / this.view.scale;
        this.view.cy += (y - d.y) / this.view.scale;
        d.x = x;
        d.y = y;
      } else {
        this.lassoScreen.push(x, y);
      }
      this.redraw();
    });
    on(window, "mouseup", () => {
      const d = this.drag;
      this.drag = null;
      if (d?.kind !== "lasso") return;
      const poly: number[] = [];
      for (let i = 0; i < this.lassoScreen.length; i += 2)
        poly.push(...this.toData(this.lassoScreen[i], this.lassoScreen[i + 1]));
      this.lassoScreen = [];
      this.lassoData = poly.length >= 6 ? poly : [];
      if (poly.length >= 6) this.events.onLasso(poly);
      this.redraw();
    });
    on(
      c,
      "wheel",
      (e) => {
        e.preventDefault();
        const [x, y] = this.local(e);
        const [bx, by] = this.toData(x, y);
        this.view.scale *= Math.exp(-e.deltaY * (e.deltaMode === 1 ? 0.05 : 0.0015));
        // The data point under the cursor stays under it.
        const [ax, ay] = this.toData(x, y);
        this.view.cx += bx - ax;
        this.view.cy += by - ay;
        this.redraw();
      },
      { passive: false },
    );
  }

  /** Forget the lasso drawn on screen. */
  clearLasso(): void {
    this.lassoScreen = [];
    this.lassoData = [];
    this.redraw();
  }
}
