// The timeline view of a run: one row per step, in the order the steps
// started, a bar from each attempt's start to its end (the last attempt's;
// earlier ones are in the step panel) after a lighter bar of the time the
// step waited for a slot. It answers where a run's time went. Like the DAG
// it draws only the rows in view, on a canvas, once per animation frame.

import { COLORS } from './status.js';
import { pointer } from './pointer.js';

const ROW_H = 18;
const BAR_H = 12;
const AXIS_H = 24;
const LABEL_W = 180;
const WAIT = 'rgba(143, 163, 191, 0.45)';

export class Timeline {
  /**
   * @param {HTMLCanvasElement} canvas
   * @param {{onSelect?: (id: string) => void, onHover?: (text: string|null, x: number, y: number) => void}} opts
   */
  constructor(canvas, opts = {}) {
    this.canvas = canvas;
    this.ctx = canvas.getContext('2d', { alpha: false });
    this.opts = opts;
    this.data = null;
    this.order = new Int32Array(0);
    this.scrollY = 0;
    this.t0 = 0; // time at the left edge (ms since the epoch)
    this.msPerPx = 1;
    this.fitted = false;
    // auto keeps the whole run in view as it grows, until the user moves.
    this.auto = true;
    this.raf = 0;
    this.sortDue = true;
    this.listen();
    this.ro = new ResizeObserver(() => this.resize());
    this.ro.observe(canvas);
  }

  /**
   * setData gives the run: ids, the DAG's status codes (shared, read at
   * each frame), start, end and wait (ms; NaN when unknown) per step, the
   * run's start and end (end 0 while it runs).
   */
  setData(d) {
    this.data = d;
    this.sortDue = true;
    if (!this.fitted) this.fit();
    this.request();
  }

  /** changed tells the view that times changed: re-sort at the next frame. */
  changed() {
    this.sortDue = true;
    this.request();
  }

  request() {
    if (!this.raf && this.data && this.visible()) this.raf = requestAnimationFrame(() => this.frame());
  }

  visible() {
    return this.canvas.offsetParent !== null;
  }

  resize() {
    const r = this.canvas.getBoundingClientRect();
    const dpr = window.devicePixelRatio || 1;
    this.dpr = dpr;
    this.cw = r.width;
    this.ch = r.height;
    const w = Math.max(1, Math.round(r.width * dpr));
    const h = Math.max(1, Math.round(r.height * dpr));
    if (this.canvas.width !== w || this.canvas.height !== h) {
      this.canvas.width = w;
      this.canvas.height = h;
      if (!this.fitted) this.fit();
    }
    if (this.scrollPending && this.ch && this.data) this.select(this.data.ids[this.selected], false);
    this.request();
  }

  /** span returns the run's time span [start, end] in ms. */
  span() {
    const d = this.data;
    const end = d.runEnd || Date.now();
    return [d.runStart, Math.max(end, d.runStart + 1)];
  }

  /** fit shows the run's whole time span. */
  fit() {
    if (!this.data || !this.cw) return;
    const [a, b] = this.span();
    this.t0 = a;
    this.msPerPx = Math.max((b - a) / Math.max(this.cw - LABEL_W - 16, 50), 1e-3);
    this.fitted = true;
    this.auto = true;
    this.request();
  }

  /** zoom scales time by f around screen x. */
  zoom(f, sx = LABEL_W + (this.cw - LABEL_W) / 2) {
    this.auto = false;
    const t = this.t0 + (sx - LABEL_W) * this.msPerPx;
    this.msPerPx = Math.min(Math.max(this.msPerPx / f, 1e-3), 1e9);
    this.t0 = t - (sx - LABEL_W) * this.msPerPx;
    this.request();
  }

  sort() {
    const d = this.data;
    const n = d.ids.length;
    if (this.order.length !== n) this.order = new Int32Array(n);
    for (let i = 0; i < n; i++) this.order[i] = i;
    const s = d.start;
    this.order.sort((a, b) => {
      const x = s[a], y = s[b];
      if (Number.isNaN(x)) return Number.isNaN(y) ? a - b : 1;
      if (Number.isNaN(y)) return -1;
      return x - y || a - b;
    });
    this.rowOf = new Int32Array(n);
    for (let r = 0; r < n; r++) this.rowOf[this.order[r]] = r;
    this.sortDue = false;
  }

  frame() {
    this.raf = 0;
    if (!this.data) return;
    if (this.sortDue) this.sort();
    if (this.auto && !this.data.runEnd) {
      const [a, b] = this.span();
      this.t0 = a;
      this.msPerPx = Math.max((b - a) / Math.max(this.cw - LABEL_W - 16, 50), 1e-3);
    }
    this.draw();
    // A running run's bars grow: draw again while it runs and is in view.
    if (!this.data.runEnd && this.visible()) {
      clearTimeout(this.tick);
      this.tick = setTimeout(() => this.request(), 500);
    }
  }

  clampScroll() {
    const max = Math.max(0, this.data.ids.length * ROW_H - ((this.ch || 0) - AXIS_H));
    this.scrollY = Math.min(Math.max(this.scrollY || 0, 0), max);
  }

  draw() {
    const ctx = this.ctx;
    const d = this.data;
    const dpr = this.dpr || 1;
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    ctx.fillStyle = '#fff';
    ctx.fillRect(0, 0, this.cw, this.ch);
    this.clampScroll();
    const n = d.ids.length;
    const first = Math.floor(this.scrollY / ROW_H);
    const last = Math.min(n - 1, Math.floor((this.scrollY + this.ch - AXIS_H) / ROW_H));
    const x = (t) => LABEL_W + (t - this.t0) / this.msPerPx;
    const now = Date.now();
    ctx.font = '11.5px system-ui, -apple-system, "Segoe UI", Roboto, sans-serif';
    ctx.textBaseline = 'middle';
    for (let r = first; r <= last; r++) {
      const i = this.order[r];
      const y = AXIS_H + r * ROW_H - this.scrollY;
      if (r % 2) {
        ctx.fillStyle = '#f7f8fa';
        ctx.fillRect(0, y, this.cw, ROW_H);
      }
      if (i === this.selected) {
        ctx.fillStyle = '#e3ecfb';
        ctx.fillRect(0, y, this.cw, ROW_H);
      }
      const s = d.start[i];
      if (!Number.isNaN(s)) {
        const e = Number.isNaN(d.end[i]) ? (d.runEnd || now) : d.end[i];
        const w = d.wait[i];
        const by = y + (ROW_H - BAR_H) / 2;
        if (w > 0) {
          ctx.fillStyle = WAIT;
          ctx.fillRect(x(s - w), by + 3, Math.max(w / this.msPerPx, 1), BAR_H - 6);
        }
        ctx.fillStyle = COLORS[d.code[i]];
        ctx.fillRect(x(s), by, Math.max((e - s) / this.msPerPx, 2), BAR_H);
      }
      ctx.fillStyle = '#fff';
      ctx.fillRect(0, y, LABEL_W - 6, ROW_H);
      ctx.fillStyle = COLORS[d.code[i]];
      ctx.fillRect(4, y + 5, 8, 8);
      ctx.fillStyle = '#1d232b';
      ctx.fillText(d.ids[i].length > 26 ? d.ids[i].slice(0, 25) + '…' : d.ids[i], 16, y + ROW_H / 2 + 0.5);
    }
    this.drawAxis(x, now);
  }

  drawAxis(x, now) {
    const ctx = this.ctx;
    const d = this.data;
    ctx.fillStyle = '#fafbfc';
    ctx.fillRect(0, 0, this.cw, AXIS_H);
    ctx.strokeStyle = '#dde1e6';
    ctx.beginPath();
    ctx.moveTo(0, AXIS_H - 0.5);
    ctx.lineTo(this.cw, AXIS_H - 0.5);
    ctx.stroke();
    // Ticks every 1, 2 or 5 × 10^k ms, about 100 px apart.
    const raw = this.msPerPx * 100;
    const pow = Math.pow(10, Math.floor(Math.log10(raw)));
    const step = [1, 2, 5, 10].map((m) => m * pow).find((v) => v >= raw);
    const from = Math.ceil((this.t0 - d.runStart) / step) * step;
    ctx.fillStyle = '#6b7480';
    ctx.textBaseline = 'middle';
    for (let t = from; x(d.runStart + t) < this.cw; t += step) {
      const px = Math.round(x(d.runStart + t)) + 0.5;
      if (px < LABEL_W) continue;
      ctx.fillRect(px, AXIS_H - 6, 1, 6);
      ctx.fillText(tickLabel(t, step), px + 3, AXIS_H / 2);
    }
    ctx.fillStyle = '#6b7480';
    ctx.fillText(`${d.ids.length} steps`, 8, AXIS_H / 2);
    if (!d.runEnd) {
      const px = x(now);
      if (px > LABEL_W && px < this.cw) {
        ctx.fillStyle = '#c9372c';
        ctx.fillRect(px, 0, 1, this.ch);
      }
    }
  }

  /** rowAt returns the step index at a pointer event's y, or -1. */
  rowAt(e) {
    const r = this.canvas.getBoundingClientRect();
    const y = e.clientY - r.top - AXIS_H + this.scrollY;
    if (e.clientY - r.top < AXIS_H || y < 0) return -1;
    const row = Math.floor(y / ROW_H);
    return row < this.order.length ? this.order[row] : -1;
  }

  listen() {
    const c = this.canvas;
    c.tabIndex = 0;
    c.addEventListener('wheel', (e) => {
      e.preventDefault();
      if (!this.data) return;
      if (e.ctrlKey || e.metaKey) {
        const r = c.getBoundingClientRect();
        this.zoom(Math.exp(-e.deltaY * 0.002), e.clientX - r.left);
        return;
      }
      this.scrollY += e.deltaY * (e.deltaMode === 1 ? 18 : 1);
      if (e.deltaX) {
        this.auto = false;
        this.t0 += (e.deltaX * (e.deltaMode === 1 ? 18 : 1)) * this.msPerPx;
      }
      this.request();
    }, { passive: false });
    pointer(c, {
      onDragStart: () => ({ t0: this.t0, sy: this.scrollY }),
      onDrag: (dx, dy, start) => {
        if (dx) this.auto = false;
        this.t0 = start.t0 - dx * this.msPerPx;
        this.scrollY = start.sy - dy;
        this.request();
      },
      onClick: (e) => {
        if (!this.data) return;
        const i = this.rowAt(e);
        if (i >= 0) this.select(this.data.ids[i], true);
      },
      onHover: (e) => {
        if (!this.opts.onHover || !this.data) return;
        const i = this.rowAt(e);
        this.opts.onHover(i < 0 ? null : this.describe(i), e.offsetX, e.offsetY);
      },
      onLeave: () => this.opts.onHover && this.opts.onHover(null),
    });
    c.addEventListener('keydown', (e) => {
      const keys = {
        ArrowDown: () => (this.scrollY += ROW_H * 3),
        ArrowUp: () => (this.scrollY -= ROW_H * 3),
        PageDown: () => (this.scrollY += this.ch - AXIS_H),
        PageUp: () => (this.scrollY -= this.ch - AXIS_H),
        ArrowLeft: () => ((this.auto = false), (this.t0 -= 60 * this.msPerPx)),
        ArrowRight: () => ((this.auto = false), (this.t0 += 60 * this.msPerPx)),
        '+': () => this.zoom(1.25),
        '=': () => this.zoom(1.25),
        '-': () => this.zoom(0.8),
        0: () => this.fit(),
      };
      if (keys[e.key]) {
        e.preventDefault();
        keys[e.key]();
        this.request();
      }
    });
  }

  /** describe returns the hover text of step i. */
  describe(i) {
    const d = this.data;
    const s = d.start[i];
    if (Number.isNaN(s)) return `${d.ids[i]} · not started`;
    const e = Number.isNaN(d.end[i]) ? null : d.end[i];
    const at = fmt(s - d.runStart);
    const took = e === null ? 'running' : `took ${fmt(e - s)}`;
    const wait = d.wait[i] > 0 ? ` · waited ${fmt(d.wait[i])}` : '';
    return `${d.ids[i]} · started at +${at} · ${took}${wait}`;
  }

  /** select marks a step's row, scrolls it into view, and tells onSelect. */
  select(id, tell) {
    const i = this.data ? this.data.ids.indexOf(id) : -1;
    this.selected = i;
    // Shown but not measured yet (the resize observer comes later).
    if (!this.ch && this.visible()) this.resize();
    // Not laid out yet: scroll to it once the canvas has a size.
    this.scrollPending = i >= 0 && !this.ch;
    if (i >= 0 && this.ch) {
      if (this.sortDue) this.sort();
      const y = this.rowOf[i] * ROW_H;
      if (y < this.scrollY || y + ROW_H > this.scrollY + this.ch - AXIS_H) this.scrollY = y - (this.ch - AXIS_H) / 2;
    }
    this.request();
    if (tell && i >= 0 && this.opts.onSelect) this.opts.onSelect(id);
  }

  /** rows returns the step ids in row order (automation hook). */
  rows() {
    if (this.sortDue) this.sort();
    return Array.from(this.order, (i) => this.data.ids[i]);
  }

  /**
   * rowRect returns a step's row box in viewport CSS pixels, scrolled into
   * view first unless scroll is false.
   */
  rowRect(id, scroll = true) {
    if (scroll) this.select(id, false);
    if (this.sortDue) this.sort();
    this.clampScroll();
    const i = this.data.ids.indexOf(id);
    const r = this.canvas.getBoundingClientRect();
    return { x: r.left + LABEL_W, y: r.top + AXIS_H + this.rowOf[i] * ROW_H - this.scrollY, w: r.width - LABEL_W, h: ROW_H };
  }

  destroy() {
    this.ro.disconnect();
    clearTimeout(this.tick);
    if (this.raf) cancelAnimationFrame(this.raf);
    this.data = null;
  }
}

function tickLabel(t, step) {
  if (step < 1) return `${t.toFixed(2)}ms`;
  if (step < 1000) return `${Math.round(t)}ms`;
  if (step < 60000) return `${(t / 1000).toFixed(step < 10000 ? 1 : 0)}s`;
  return `${Math.floor(t / 60000)}m${String(Math.round((t % 60000) / 1000)).padStart(2, '0')}s`;
}

function fmt(ms) {
  if (ms < 1) return `${ms.toFixed(2)} ms`;
  if (ms < 1000) return `${Math.round(ms)} ms`;
  return `${(ms / 1000).toFixed(2)} s`;
}
