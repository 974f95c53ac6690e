// The layered layout of a workflow's DAG. Nodes sit in columns by level
// (the server computes levels: a node's level is one more than its deepest
// dependency's); within a level they are ordered by the mean position of
// their dependencies (one barycentre sweep, O(edges log)), so that edges
// mostly run straight. A level wider than `maxRows` nodes is wrapped into
// a block of sub-columns, so that a 10,000-way fan-out is a compact grid
// rather than a column 400,000 pixels tall; edges into and out of such a
// block are bundled at the block's side (the exact edges of a node are
// drawn when it is selected).

export const NODE_W = 168;
export const NODE_H = 28;
export const ROW = 38; // row pitch
export const COL_GAP = 20; // between the sub-columns of a wrapped level
export const LEVEL_GAP = 80; // between levels, room for edges

/**
 * layout computes positions for a graph document (GET .../graph): nodes
 * [{id, type, level, deps}], critical_path [indices].
 * Returns {n, ids, types, level, x, y, levels: [{x, w, y, h, rows, cols,
 * nodes}], width, height, segs: Float32Array (x1,y1,x2,y2 quadruples),
 * segKind: Uint8Array (1 = on the critical path), index: Map id→i,
 * deps, dependents, crit: Uint8Array}.
 */
export function layout(graph, opts = {}) {
  const nodes = graph.nodes || [];
  const n = nodes.length;
  const ids = new Array(n);
  const types = new Array(n);
  const level = new Int32Array(n);
  const index = new Map();
  let depth = 0;
  for (let i = 0; i < n; i++) {
    const nd = nodes[i];
    ids[i] = nd.id;
    types[i] = nd.type;
    level[i] = nd.level;
    index.set(nd.id, i);
    if (nd.level + 1 > depth) depth = nd.level + 1;
  }
  const deps = nodes.map((nd) => nd.deps || []);
  // Dependents in CSR form.
  const outDeg = new Int32Array(n + 1);
  for (let i = 0; i < n; i++) for (const d of deps[i]) outDeg[d + 1]++;
  for (let i = 0; i < n; i++) outDeg[i + 1] += outDeg[i];
  const outAdj = new Int32Array(outDeg[n]);
  const fill = outDeg.slice(0, n);
  for (let i = 0; i < n; i++) for (const d of deps[i]) outAdj[fill[d]++] = i;
  const dependents = (i) => outAdj.subarray(outDeg[i], outDeg[i + 1]);

  const maxRows = opts.maxRows || Math.max(24, Math.ceil(Math.sqrt(n) * 1.2));
  // Group by level (nodes come in topological order, so a level's nodes
  // keep that order before sorting).
  const byLevel = Array.from({ length: depth }, () => []);
  for (let i = 0; i < n; i++) byLevel[level[i]].push(i);
  // Barycentre sweep: pos = fractional position within its level.
  const pos = new Float64Array(n);
  const key = new Float64Array(n);
  for (let L = 0; L < depth; L++) {
    const members = byLevel[L];
    if (L > 0) {
      for (let k = 0; k < members.length; k++) {
        const i = members[k];
        const ds = deps[i];
        let s = 0;
        for (const d of ds) s += pos[d];
        key[i] = ds.length ? s / ds.length : k / members.length;
      }
      members.sort((a, b) => key[a] - key[b] || a - b);
    }
    const m = members.length;
    for (let k = 0; k < m; k++) pos[members[k]] = m > 1 ? k / (m - 1) : 0.5;
  }
  // Geometry.
  const levels = [];
  let x = 0;
  let height = 0;
  for (let L = 0; L < depth; L++) {
    const members = byLevel[L];
    const rows = Math.min(members.length, maxRows);
    const cols = Math.ceil(members.length / maxRows);
    const w = cols * NODE_W + (cols - 1) * COL_GAP;
    const hgt = rows * ROW - (ROW - NODE_H);
    levels.push({ x, w, y: 0, h: hgt, rows, cols, nodes: Int32Array.from(members) });
    height = Math.max(height, hgt);
    x += w + LEVEL_GAP;
  }
  const width = Math.max(0, x - LEVEL_GAP);
  const xs = new Float32Array(n);
  const ys = new Float32Array(n);
  for (const lv of levels) {
    lv.y = (height - lv.h) / 2;
    for (let k = 0; k < lv.nodes.length; k++) {
      const i = lv.nodes[k];
      const col = Math.floor(k / lv.rows);
      const row = k % lv.rows;
      xs[i] = lv.x + col * (NODE_W + COL_GAP);
      ys[i] = lv.y + row * ROW;
    }
  }
  // The critical path, as a node mark and an edge set.
  const crit = new Uint8Array(n);
  const path = graph.critical_path || [];
  const critEdge = new Set();
  for (let k = 0; k < path.length; k++) {
    crit[path[k]] = 1;
    if (k > 0) critEdge.add(path[k - 1] * n + path[k]);
  }
  // Edge segments, bundled at wrapped levels (a bundle on the critical
  // path is drawn as such).
  const segs = [];
  const kinds = [];
  const seen = new Map(); // bundle key → segment number
  const inBus = new Uint8Array(depth);
  const outBus = new Uint8Array(depth);
  for (let i = 0; i < n; i++) {
    const li = levels[level[i]];
    for (const d of deps[i]) {
      const ld = levels[level[d]];
      const onPath = critEdge.has(d * n + i);
      let x1, y1, x2, y2, k;
      if (ld.cols > 1) {
        x1 = ld.x + ld.w + 8;
        y1 = ld.y + ld.h / 2;
        k = 'L' + level[d];
        outBus[level[d]] = 1;
      } else {
        x1 = xs[d] + NODE_W;
        y1 = ys[d] + NODE_H / 2;
        k = 'N' + d;
      }
      if (li.cols > 1) {
        x2 = li.x - 8;
        y2 = li.y + li.h / 2;
        k += '>L' + level[i];
        inBus[level[i]] = 1;
      } else {
        x2 = xs[i];
        y2 = ys[i] + NODE_H / 2;
        k += '>N' + i;
      }
      const e = seen.get(k);
      if (e !== undefined) {
        if (onPath) kinds[e] = 1;
        continue;
      }
      seen.set(k, kinds.length);
      segs.push(x1, y1, x2, y2);
      kinds.push(onPath ? 1 : 0);
    }
  }
  // Bus bars at the sides of wrapped levels that have edges.
  for (let L = 0; L < depth; L++) {
    const lv = levels[L];
    if (inBus[L]) segs.push(lv.x - 8, lv.y, lv.x - 8, lv.y + lv.h), kinds.push(2);
    if (outBus[L]) segs.push(lv.x + lv.w + 8, lv.y, lv.x + lv.w + 8, lv.y + lv.h), kinds.push(2);
  }
  return {
    n, ids, types, level, x: xs, y: ys, levels, width, height, index, deps, dependents, crit,
    segs: Float32Array.from(segs), segKind: Uint8Array.from(kinds),
  };
}

/** hit returns the node at world point (wx, wy), or -1. */
export function hit(lay, wx, wy) {
  const lv = levelAt(lay.levels, wx);
  if (!lv) return -1;
  const cx = wx - lv.x;
  const col = Math.floor(cx / (NODE_W + COL_GAP));
  if (col < 0 || col >= lv.cols || cx - col * (NODE_W + COL_GAP) > NODE_W) return -1;
  const cy = wy - lv.y;
  const row = Math.floor(cy / ROW);
  if (row < 0 || row >= lv.rows || cy - row * ROW > NODE_H) return -1;
  const k = col * lv.rows + row;
  return k < lv.nodes.length ? lv.nodes[k] : -1;
}

/** levelAt finds the level whose column spans world x, by binary search. */
export function levelAt(levels, wx) {
  let lo = 0;
  let hi = levels.length - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    const lv = levels[mid];
    if (wx < lv.x) hi = mid - 1;
    else if (wx > lv.x + lv.w) lo = mid + 1;
    else return lv;
  }
  return null;
}

/** firstLevelFrom returns the index of the first level ending at or after wx. */
export function firstLevelFrom(levels, wx) {
  let lo = 0;
  let hi = levels.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (levels[mid].x + levels[mid].w < wx) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}
