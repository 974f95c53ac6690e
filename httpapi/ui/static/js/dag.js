// The DAG view: a canvas that draws a laid-out graph (layout.js) with
// nodes coloured by status, the critical path marked, pan and zoom. It
// stays fast at 10,000+ steps: only nodes and edges in the viewport are
// drawn, edges are cached in an offscreen layer redrawn only when the view
// moves, nodes of one colour are filled in one batch, labels appear only
// when nodes are big enough to read, and status events are queued and
// applied once per animation frame.

import { layout, hit, firstLevelFrom, NODE_W, NODE_H, ROW, COL_GAP } from './layout.js';
import { CODE, COLORS, STATUSES, TEXT_ON, stepTransition } from './status.js';
import { pointer } from './pointer.js';

const CRIT = '#e0a800';
const SELECT = '#1d232b';
const EDGE = 'rgba(90, 101, 115, 0.55)';
const MAX_SCALE = 3;

export class DAG {
  /**
   * @param {HTMLCanvasElement} canvas
   * @param {{onSelect?: (id: string|null) => void, onFrame?: () => void,
   *   onHover?: (id: string|null, x: number, y: number) => void,
   *   statuses?: boolean, start?: number}} opts
   */
  constructor(canvas, opts = {}) {
    this.canvas = canvas;
    this.ctx = canvas.getContext('2d', { alpha: false });
    this.edges = document.createElement('canvas');
    this.ectx = this.edges.getContext('2d');
    this.opts = opts;
    this.lay = null;
    this.scale = 1;
    this.tx = 0;
    this.ty = 0;
    this.dpr = window.devicePixelRatio || 1;
    this.selected = -1;
    this.queue = [];
    this.raf = 0;
    this.edgesDirty = true;
    this.frames = 0;
    this.frameMs = [];
    this.drawn = 0;
    this.firstRenderMs = null;
    this.start = opts.start ?? performance.now();
    this.statusesSet = !opts.statuses;
    this.counts = new Int32Array(STATUSES.length);
    this.listen();
    this.ro = new ResizeObserver(() => this.resize());
    this.ro.observe(canvas);
  }

  /** setGraph lays out a graph document and fits it into the view. */
  setGraph(graph) {
    this.lay = layout(graph);
    this.labels = null;
    const n = this.lay.n;
    this.code = new Uint8Array(n);
    this.attempts = new Uint16Array(n);
    this.counts.fill(0);
    this.counts[CODE.pending] = n;
    this.selected = -1;
    this.resize(true);
    this.fit();
  }

  /**
   * setStatuses sets every step's status from a run document's steps
   * ({id: {status, attempts}}), replacing what events did.
   */
  setStatuses(steps) {
    const lay = this.lay;
    this.counts.fill(0);
    for (let i = 0; i < lay.n; i++) {
      const s = steps[lay.ids[i]];
      const c = s ? CODE[s.status] ?? CODE.pending : CODE.pending;
      this.code[i] = c;
      this.attempts[i] = s ? s.attempts : 0;
      this.counts[c]++;
    }
    this.statusesSet = true;
    this.request();
  }

  /** enqueue queues run events; they are applied at the next frame. */
  enqueue(events) {
    for (const ev of events) if (ev.step_id) this.queue.push(ev);
    if (this.queue.length) this.request();
  }

  /** apply applies the queued events; returns the ids of changed steps. */
  apply() {
    const changed = new Set();
    const lay = this.lay;
    for (const ev of this.queue) {
      const i = lay.index.get(ev.step_id);
      if (i === undefined) continue;
      const t = stepTransition(ev, this.code[i], this.attempts[i]);
      if (!t) continue;
      this.counts[this.code[i]]--;
      this.code[i] = t[0];
      this.attempts[i] = t[1];
      this.counts[t[0]]++;
      changed.add(ev.step_id);
    }
    this.queue.length = 0;
    return changed;
  }

  /** request schedules a frame. */
  request() {
    if (!this.raf && this.lay) this.raf = requestAnimationFrame(() => this.frame());
  }

  frame() {
    this.raf = 0;
    const t0 = performance.now();
    const changed = this.queue.length ? this.apply() : null;
    this.draw();
    const ms = performance.now() - t0;
    this.frames++;
    this.frameMs.push(ms);
    if (this.frameMs.length > 1000) this.frameMs.splice(0, this.frameMs.length - 1000);
    // The first frame that shows every step's status.
    if (this.firstRenderMs === null && this.statusesSet) this.firstRenderMs = performance.now() - this.start;
    this.opts.onFrame && this.opts.onFrame(changed);
  }

  resize(quiet) {
    const r = this.canvas.getBoundingClientRect();
    this.dpr = window.devicePixelRatio || 1;
    const w = Math.max(1, Math.round(r.width * this.dpr));
    const h = Math.max(1, Math.round(r.height * this.dpr));
    if (this.canvas.width !== w || this.canvas.height !== h) {
      const first = this.cw === undefined || this.cw <= 1;
      // Keep what was in the middle of the view in the middle.
      if (!first) {
        this.tx += (r.width - this.cw) / 2;
        this.ty += (r.height - this.ch) / 2;
      }
      this.canvas.width = this.edges.width = w;
      this.canvas.height = this.edges.height = h;
      this.cw = r.width;
      this.ch = r.height;
      this.edgesDirty = true;
      if (first && this.lay && !quiet) this.fit();
    }
    this.request();
  }

  /** fit shows the whole graph. */
  fit() {
    const lay = this.lay;
    if (!lay || !this.cw) return;
    const m = 24;
    const s = Math.min((this.cw - 2 * m) / Math.max(lay.width, 1), (this.ch - 2 * m) / Math.max(lay.height, 1), 1.2);
    this.scale = Math.max(s, 1e-4);
    this.tx = (this.cw - lay.width * this.scale) / 2;
    this.ty = (this.ch - lay.height * this.scale) / 2;
    this.moved();
  }

  /** zoom scales the view by f around the screen point (sx, sy). */
  zoom(f, sx = this.cw / 2, sy = this.ch / 2) {
    const lay = this.lay;
    const minS = Math.min(0.5 * Math.min(this.cw / Math.max(lay.width, 1), this.ch / Math.max(lay.height, 1)), 0.1);
    const s = Math.min(MAX_SCALE, Math.max(minS, this.scale * f));
    const wx = (sx - this.tx) / this.scale;
    const wy = (sy - this.ty) / this.scale;
    this.scale = s;
    this.tx = sx - wx * s;
    this.ty = sy - wy * s;
    this.moved();
  }

  moved() {
    this.edgesDirty = true;
    this.request();
  }

  /** center brings node i to the middle of the view at a readable zoom. */
  center(i, minScale = 0.8) {
    if (this.scale < minScale) this.scale = minScale;
    this.tx = this.cw / 2 - (this.lay.x[i] + NODE_W / 2) * this.scale;
    this.ty = this.ch / 2 - (this.lay.y[i] + NODE_H / 2) * this.scale;
    this.moved();
  }

  /** select marks node id (or none) and tells onSelect. */
  select(id, quiet) {
    const i = id == null ? -1 : this.lay.index.get(id) ?? -1;
    this.selected = i;
    this.edgesDirty = true;
    this.request();
    if (!quiet && this.opts.onSelect) this.opts.onSelect(i < 0 ? null : id);
    return i >= 0;
  }

  /** pan moves the view by (dx, dy) CSS pixels. */
  pan(dx, dy) {
    this.tx += dx;
    this.ty += dy;
    this.moved();
  }

  /**
   * idsWithStatus returns the ids of up to limit steps in a status (a
   * name), in topological order, and how many there are in all.
   */
  idsWithStatus(status, limit) {
    const code = CODE[status];
    const ids = [];
    if (!this.lay || code === undefined) return { ids, total: 0 };
    for (let i = 0; i < this.lay.n && ids.length < limit; i++) if (this.code[i] === code) ids.push(this.lay.ids[i]);
    return { ids, total: this.counts[code] };
  }

  /** find returns the first id equal to q, else the first containing it. */
  find(q) {
    if (!q || !this.lay) return null;
    if (this.lay.index.has(q)) return q;
    const lq = q.toLowerCase();
    return this.lay.ids.find((id) => id.toLowerCase().includes(lq)) || null;
  }

  visible() {
    const s = this.scale;
    return { x0: -this.tx / s, y0: -this.ty / s, x1: (this.cw - this.tx) / s, y1: (this.ch - this.ty) / s };
  }

  draw() {
    const lay = this.lay;
    const ctx = this.ctx;
    const dpr = this.dpr;
    ctx.setTransform(1, 0, 0, 1, 0, 0);
    ctx.fillStyle = '#fff';
    ctx.fillRect(0, 0, this.canvas.width, this.canvas.height);
    if (!lay || lay.n === 0) return;
    if (this.edgesDirty) this.drawEdges();
    ctx.drawImage(this.edges, 0, 0);
    ctx.setTransform(dpr * this.scale, 0, 0, dpr * this.scale, dpr * this.tx, dpr * this.ty);
    const v = this.visible();
    const s = this.scale;
    const sh = NODE_H * s; // node height on screen
    // Visible nodes, grouped by status colour.
    const groups = Array.from({ length: STATUSES.length }, () => []);
    const crit = [];
    let drawn = 0;
    for (let L = firstLevelFrom(lay.levels, v.x0); L < lay.levels.length; L++) {
      const lv = lay.levels[L];
      if (lv.x > v.x1) break;
      const c0 = Math.max(0, Math.floor((v.x0 - lv.x) / (NODE_W + COL_GAP)));
      const c1 = Math.min(lv.cols - 1, Math.floor((v.x1 - lv.x) / (NODE_W + COL_GAP)));
      const r0 = Math.max(0, Math.floor((v.y0 - lv.y - NODE_H) / ROW) + 1);
      const r1 = Math.min(lv.rows - 1, Math.floor((v.y1 - lv.y) / ROW));
      for (let c = c0; c <= c1; c++) {
        for (let r = r0; r <= r1; r++) {
          const k = c * lv.rows + r;
          if (k >= lv.nodes.length) break;
          const i = lv.nodes[k];
          groups[this.code[i]].push(i);
          if (lay.crit[i]) crit.push(i);
          drawn++;
        }
      }
    }
    this.drawn = drawn;
    const rounded = sh >= 8;
    // At tiny sizes, draw at least one device pixel so that nothing vanishes.
    const minW = 1 / (dpr * s);
    const w = Math.max(NODE_W, minW);
    const hgt = Math.max(NODE_H, minW);
    for (let c = 0; c < groups.length; c++) {
      const g = groups[c];
      if (!g.length) continue;
      ctx.fillStyle = this.opts.statuses === false ? '#dfe4ea' : COLORS[c];
      ctx.beginPath();
      for (const i of g) {
        if (rounded) ctx.roundRect(lay.x[i], lay.y[i], w, hgt, 5);
        else ctx.rect(lay.x[i], lay.y[i], w, hgt);
      }
      ctx.fill();
    }
    if (crit.length) {
      ctx.strokeStyle = CRIT;
      ctx.lineWidth = Math.max(2.5, 2 / s);
      ctx.beginPath();
      for (const i of crit) ctx.rect(lay.x[i] - 1, lay.y[i] - 1, w + 2, hgt + 2);
      ctx.stroke();
    }
    if (this.selected >= 0) {
      const i = this.selected;
      ctx.strokeStyle = SELECT;
      ctx.lineWidth = Math.max(3, 3 / s);
      ctx.strokeRect(lay.x[i] - 3, lay.y[i] - 3, w + 6, hgt + 6);
    }
    if (sh >= 11) this.drawLabels(groups, s);
  }

  drawLabels(groups, s) {
    const ctx = this.ctx;
    const lay = this.lay;
    ctx.font = '12px system-ui, -apple-system, "Segoe UI", Roboto, sans-serif';
    ctx.textBaseline = 'middle';
    const maxW = NODE_W - 14;
    // Labels are measured once per node (the font never changes).
    const labels = this.labels || (this.labels = new Array(lay.n));
    for (let c = 0; c < groups.length; c++) {
      ctx.fillStyle = this.opts.statuses === false ? '#1d232b' : TEXT_ON[c];
      for (const i of groups[c]) {
        let label = labels[i];
        if (label === undefined) {
          label = lay.ids[i];
          if (ctx.measureText(label).width > maxW) label = ellipsize(ctx, label, maxW);
          labels[i] = label;
        }
        ctx.fillText(label, lay.x[i] + 7, lay.y[i] + NODE_H / 2 + 0.5);
      }
    }
  }

  drawEdges() {
    this.edgesDirty = false;
    const ctx = this.ectx;
    const lay = this.lay;
    const dpr = this.dpr;
    ctx.setTransform(1, 0, 0, 1, 0, 0);
    ctx.clearRect(0, 0, this.edges.width, this.edges.height);
    ctx.setTransform(dpr * this.scale, 0, 0, dpr * this.scale, dpr * this.tx, dpr * this.ty);
    const v = this.visible();
    const s = this.scale;
    const curved = s >= 0.2;
    const segs = lay.segs;
    const kinds = lay.segKind;
    const paths = [new Path2D(), new Path2D(), new Path2D()];
    for (let k = 0, e = 0; k < segs.length; k += 4, e++) {
      const x1 = segs[k], y1 = segs[k + 1], x2 = segs[k + 2], y2 = segs[k + 3];
      if (Math.max(x1, x2) < v.x0 || Math.min(x1, x2) > v.x1 || Math.max(y1, y2) < v.y0 || Math.min(y1, y2) > v.y1) continue;
      const p = paths[kinds[e]];
      p.moveTo(x1, y1);
      if (curved && kinds[e] !== 2) {
        const mx = (x1 + x2) / 2;
        p.bezierCurveTo(mx, y1, mx, y2, x2, y2);
      } else p.lineTo(x2, y2);
    }
    ctx.lineWidth = Math.max(1, 1 / s);
    ctx.strokeStyle = EDGE;
    ctx.stroke(paths[0]);
    ctx.lineWidth = Math.max(2, 2 / s);
    ctx.stroke(paths[2]);
    ctx.strokeStyle = CRIT;
    ctx.lineWidth = Math.max(2.5, 2 / s);
    ctx.stroke(paths[1]);
    if (this.selected >= 0) this.drawNodeEdges(ctx, this.selected, s);
  }

  // The exact edges of the selected node, unbundled.
  drawNodeEdges(ctx, i, s) {
    const lay = this.lay;
    const p = new Path2D();
    const edge = (a, b) => {
      const x1 = lay.x[a] + NODE_W, y1 = lay.y[a] + NODE_H / 2, x2 = lay.x[b], y2 = lay.y[b] + NODE_H / 2;
      const mx = (x1 + x2) / 2;
      p.moveTo(x1, y1);
      p.bezierCurveTo(mx, y1, mx, y2, x2, y2);
    };
    for (const d of lay.deps[i]) edge(d, i);
    const out = lay.dependents(i);
    for (let k = 0; k < out.length; k++) edge(i, out[k]);
    ctx.strokeStyle = SELECT;
    ctx.lineWidth = Math.max(1.5, 1.5 / s);
    ctx.stroke(p);
  }

  listen() {
    const c = this.canvas;
    c.tabIndex = 0;
    pointer(c, {
      onDragStart: () => ({ tx: this.tx, ty: this.ty }),
      onDrag: (dx, dy, start) => {
        this.tx = start.tx + dx;
        this.ty = start.ty + dy;
        this.moved();
      },
      onClick: (e) => {
        const i = this.at(e);
        this.select(i < 0 ? null : this.lay.ids[i]);
      },
      onHover: (e) => {
        if (!this.opts.onHover) return;
        const i = this.at(e);
        this.opts.onHover(i < 0 ? null : this.lay.ids[i], e.offsetX, e.offsetY, i);
      },
      onLeave: () => this.opts.onHover && this.opts.onHover(null),
    });
    c.addEventListener('wheel', (e) => {
      e.preventDefault();
      const r = c.getBoundingClientRect();
      const f = Math.exp(-e.deltaY * (e.deltaMode === 1 ? 0.05 : 0.0015));
      this.zoom(f, e.clientX - r.left, e.clientY - r.top);
    }, { passive: false });
    c.addEventListener('keydown', (e) => {
      const step = 60;
      const keys = {
        ArrowLeft: () => ((this.tx += step), this.moved()),
        ArrowRight: () => ((this.tx -= step), this.moved()),
        ArrowUp: () => ((this.ty += step), this.moved()),
        ArrowDown: () => ((this.ty -= step), this.moved()),
        '+': () => this.zoom(1.25),
        '=': () => this.zoom(1.25),
        '-': () => this.zoom(0.8),
        0: () => this.fit(),
        Escape: () => this.select(null),
      };
      if (keys[e.key]) {
        e.preventDefault();
        keys[e.key]();
      }
    });
  }

  /** at returns the node under a pointer event, or -1. */
  at(e) {
    if (!this.lay) return -1;
    const r = this.canvas.getBoundingClientRect();
    return hit(this.lay, (e.clientX - r.left - this.tx) / this.scale, (e.clientY - r.top - this.ty) / this.scale);
  }

  // Automation hooks (window.weftDAG): status, rect and stats.

  /** status returns the displayed status of a step, or null. */
  status(id) {
    const i = this.lay && this.lay.index.get(id);
    return i === undefined || i === null ? null : STATUSES[this.code[i]];
  }

  /**
   * rect brings a step into view (at a clickable size) and returns its box
   * in CSS pixels relative to the viewport.
   */
  rect(id) {
    const i = this.lay.index.get(id);
    if (i === undefined) return null;
    const v = this.visible();
    const inView = this.lay.x[i] >= v.x0 && this.lay.x[i] + NODE_W <= v.x1 && this.lay.y[i] >= v.y0 && this.lay.y[i] + NODE_H <= v.y1;
    if (!inView || NODE_H * this.scale < 12) this.center(i);
    if (this.raf) {
      cancelAnimationFrame(this.raf);
      this.raf = 0;
    }
    this.frame();
    const r = this.canvas.getBoundingClientRect();
    return { x: r.left + this.tx + this.lay.x[i] * this.scale, y: r.top + this.ty + this.lay.y[i] * this.scale, w: NODE_W * this.scale, h: NODE_H * this.scale };
  }

  stats() {
    return { nodes: this.lay ? this.lay.n : 0, drawn: this.drawn, frames: this.frames, firstRenderMs: this.firstRenderMs, frameMs: this.frameMs.slice() };
  }

  destroy() {
    this.ro.disconnect();
    if (this.raf) cancelAnimationFrame(this.raf);
    this.raf = 0;
    this.lay = null;
  }
}

function ellipsize(ctx, s, maxW) {
  let lo = 0;
  let hi = s.length;
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1;
    if (ctx.measureText(s.slice(0, mid) + '…').width <= maxW) lo = mid;
    else hi = mid - 1;
  }
  return s.slice(0, lo) + '…';
}
