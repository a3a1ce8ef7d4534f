// vit_attention.js: ViT's global attention: a query's attention over the
// image for any block and head, all heads side by side, rollout, and each
// head's mean attention distance and entropy.

const vit = {
  layer: 0,
  head: 'mean',
  query: 0,        // the query token (0..N-1), pinned by a click
  preview: null,   // the token under the pointer, shown until it leaves
  fusion: 'mean',
};

const QUERY_SIZE = 300, QUERY_PAD = 10, QUERY_TITLE = 30;

function vitAttention() { return DATA.attention; }

function layerProbs(layer) {
  const entry = vitAttention().layers[layer];
  return entry && entry.probs ? decodeBlob(entry.probs) : null;
}

function shownQuery() { return vit.preview === null ? vit.query : vit.preview; }

// Token name: "cls token" or "patch (r, c)".
function vitTokenName(t) {
  const att = vitAttention();
  const token = sequenceToken(att.grid * att.grid + att.prefix, t, true);
  if (!token) return `token ${t}`;
  return att.pool > 1 ? token.name.replace('patch', 'cell') : token.name;
}

// "patches", or "cells" when the page keeps the attention on cells of patches.
function units() { return vitAttention().pool > 1 ? 'cells' : 'patches'; }

// A page of a large image keeps the attention on cells of pool x pool patches.
function pooledNote() {
  const att = vitAttention();
  if (!(att.pool > 1)) return '';
  return `This page keeps the attention on a ${att.grid}×${att.grid} grid of cells of ${att.pool}×${att.pool} ` +
    `patches (all ${att.patches}×${att.patches} patches of every block would not fit): a query cell's row is ` +
    `the mean of its patches' rows, and a key cell gets the sum of its patches' attention. `;
}

// The patch part of row `query` of head `head` (or the mean of the heads).
function attentionRow(layer, head, query) {
  const probs = layerProbs(layer);
  if (!probs) return null;
  const [heads, N] = probs.shape;
  const prefix = vitAttention().prefix, out = new Float32Array(N - prefix);
  const first = head === 'mean' ? 0 : head, last = head === 'mean' ? heads - 1 : head;
  for (let h = first; h <= last; h++) {
    const base = (h * N + query) * N + prefix;
    for (let j = 0; j < out.length; j++) out[j] += probs.data[base + j];
  }
  if (head === 'mean') for (let j = 0; j < out.length; j++) out[j] /= heads;
  return out;
}

// The attention the query gives to the prefix tokens (which have no patch).
function prefixShare(layer, head, query) {
  const probs = layerProbs(layer);
  const prefix = vitAttention().prefix;
  if (!probs || !prefix) return '';
  const [heads, N] = probs.shape;
  const hs = head === 'mean' ? [...Array(heads).keys()] : [head];
  return PREFIX_NAMES.map((name, t) => {
    const share = hs.reduce((sum, h) => sum + probs.data[(h * N + query) * N + t], 0) / hs.length;
    return `${name} ${(100 * share).toFixed(1)}%`;
  }).join(', ');
}

// The input with each patch dimmed by how little attention it gets (bright = more).
function drawAttentionOnImage(ctx, x, y, size, weights, grid, outline) {
  drawInput(ctx, x, y, size);
  if (weights) {
    let most = 0;
    for (const w of weights) most = Math.max(most, w);
    const cell = size / grid;
    for (let p = 0; p < weights.length; p++) {
      const dark = 1 - (most > 0 ? weights[p] / most : 0);
      ctx.fillStyle = `rgba(0,0,0,${(0.9 * dark).toFixed(3)})`;
      ctx.fillRect(x + (p % grid) * cell, y + Math.floor(p / grid) * cell, cell + 0.5, cell + 0.5);
    }
  }
  if (outline) outlineCells(ctx, [outline], x, y, size, QUERY_COLOUR);
}

function queryCell(t) {
  const att = vitAttention();
  const token = sequenceToken(att.grid * att.grid + att.prefix, t, true);
  return token && token.cell ? token.cell : null;
}

function headName(head) { return head === 'mean' ? 'mean of the heads' : `head ${head}`; }

function drawVitQuery() {
  const att = vitAttention(), q = shownQuery();
  const canvas = $('vit-query');
  const row = attentionRow(vit.layer, vit.head, q);
  const width = QUERY_SIZE + 2 * QUERY_PAD, height = QUERY_SIZE + QUERY_TITLE + QUERY_PAD + 20;
  const ctx = prepareCanvas(canvas, width, height);
  drawTitle(ctx, `block ${vit.layer} · ${headName(vit.head)}`, QUERY_PAD, 4);
  drawSubtitle(ctx, `query: ${vitTokenName(q)}`, QUERY_PAD, 26);
  if (!row) {
    drawInput(ctx, QUERY_PAD, QUERY_TITLE, QUERY_SIZE);
    ctx.fillStyle = 'rgba(255,255,255,0.8)';
    ctx.fillRect(QUERY_PAD, QUERY_TITLE, QUERY_SIZE, QUERY_SIZE);
    ctx.fillStyle = INK;
    ctx.textAlign = 'center';
    ctx.fillText('This block\'s attention is not in the page.', width / 2, QUERY_TITLE + QUERY_SIZE / 2);
    ctx.textAlign = 'left';
    return;
  }
  drawAttentionOnImage(ctx, QUERY_PAD, QUERY_TITLE, QUERY_SIZE, row, att.grid, queryCell(q));
  drawSubtitle(ctx, `bright = more attention; brightest ${units().slice(0, -1)}: ${formatValue(Math.max(...row))}`,
               QUERY_PAD, QUERY_TITLE + QUERY_SIZE + 5, 'top');
}

const MAP_SIDE = 240, MAP_LEFT = 10, MAP_TOP = 30;

function drawVitQueryMap() {
  const att = vitAttention(), q = shownQuery();
  const canvas = $('vit-query-map');
  const row = attentionRow(vit.layer, vit.head, q);
  const ctx = prepareCanvas(canvas, MAP_SIDE + 2 * MAP_LEFT, MAP_TOP + MAP_SIDE + 56);
  drawTitle(ctx, 'the same row, as colours', MAP_LEFT, 4);
  drawSubtitle(ctx, `${att.grid}×${att.grid} ${units()} (keys), row by row`, MAP_LEFT, 26);
  if (!row) {
    drawSubtitle(ctx, 'not in the page', MAP_LEFT, MAP_TOP + 20);
    return;
  }
  const [, most] = finiteRange(row);
  const scale = colourScale(0, most);
  drawValueCells(ctx, att.grid, att.grid, (r, c) => row[r * att.grid + c], scale, MAP_LEFT, MAP_TOP, MAP_SIDE, MAP_SIDE);
  const cell = queryCell(q);
  if (cell) outlineCells(ctx, [cell], MAP_LEFT, MAP_TOP, MAP_SIDE, QUERY_COLOUR);
  drawLegend(ctx, scale, MAP_LEFT, MAP_TOP + MAP_SIDE + 8, MAP_SIDE, 'attention probability');
}

const HEAD_SIZE = 96, HEAD_GAP = 8, HEAD_LABEL = 16;

function headsLayout(heads) {
  const columns = Math.min(heads, heads > 8 ? Math.ceil(heads / Math.ceil(heads / 6)) : 4);
  return {columns, rows: Math.ceil(heads / columns), top: 30};
}

function drawVitHeads() {
  const att = vitAttention(), q = shownQuery();
  const canvas = $('vit-heads');
  const probs = layerProbs(vit.layer);
  const heads = att.layers[vit.layer].heads;
  const {columns, rows, top} = headsLayout(heads);
  const width = columns * (HEAD_SIZE + HEAD_GAP) + HEAD_GAP;
  const ctx = prepareCanvas(canvas, width, top + rows * (HEAD_SIZE + HEAD_LABEL + HEAD_GAP));
  drawTitle(ctx, `every head of block ${vit.layer}`, HEAD_GAP, 4);
  drawSubtitle(ctx, `query: ${vitTokenName(q)} · click a head to choose it`, HEAD_GAP, 26);
  if (!probs) {
    drawSubtitle(ctx, 'not in the page', HEAD_GAP, top + 20);
    return;
  }
  for (let h = 0; h < heads; h++) {
    const x = HEAD_GAP + (h % columns) * (HEAD_SIZE + HEAD_GAP);
    const y = top + Math.floor(h / columns) * (HEAD_SIZE + HEAD_LABEL + HEAD_GAP);
    ctx.fillStyle = h === vit.head ? QUERY_COLOUR : INK;
    ctx.font = h === vit.head ? FONT_BOLD : FONT_SMALL;
    ctx.textBaseline = 'top';
    ctx.fillText(`head ${h}`, x, y + 1);
    ctx.textBaseline = 'alphabetic';
    drawAttentionOnImage(ctx, x, y + HEAD_LABEL, HEAD_SIZE, attentionRow(vit.layer, h, q), att.grid, queryCell(q));
    if (h === vit.head) {
      ctx.strokeStyle = QUERY_COLOUR;
      ctx.lineWidth = 3;
      ctx.strokeRect(x - 2, y + HEAD_LABEL - 2, HEAD_SIZE + 4, HEAD_SIZE + 4);
    }
  }
}

function headUnderPointer(event) {
  const heads = vitAttention().layers[vit.layer].heads;
  const {columns, top} = headsLayout(heads);
  const rect = $('vit-heads').getBoundingClientRect();
  const px = event.clientX - rect.left - HEAD_GAP, py = event.clientY - rect.top - top;
  if (px < 0 || py < 0) return null;
  const col = Math.floor(px / (HEAD_SIZE + HEAD_GAP)), row = Math.floor(py / (HEAD_SIZE + HEAD_LABEL + HEAD_GAP));
  const h = row * columns + col;
  return col < columns && h < heads ? h : null;
}

const ROLLOUT_SIZE = 240;

function drawVitRollout() {
  const att = vitAttention(), q = shownQuery();
  const canvas = $('vit-rollout');
  const figure = $('vit-rollout-figure');
  if (!att.rollout) {
    figure.hidden = true;
    showNote('vit-rollout-note', att.rollout_note || 'Rollout is not in this page.');
    $('vit-fusion').disabled = true;
    return;
  }
  const matrix = decodeBlob(att.rollout[vit.fusion]);
  const N = matrix.shape[1], prefix = att.prefix;
  const row = matrix.data.subarray(q * N + prefix, q * N + N);
  const gap = 24, width = 2 * ROLLOUT_SIZE + gap + 20;
  const ctx = prepareCanvas(canvas, width, 30 + ROLLOUT_SIZE + 56);
  drawTitle(ctx, `rollout through blocks 0–${att.layers.length - 1}, heads fused by ${vit.fusion}`, 10, 4);
  drawSubtitle(ctx, `query: ${vitTokenName(q)} · left: over the image (bright = more) · right: as colours`, 10, 26);
  drawAttentionOnImage(ctx, 10, 30, ROLLOUT_SIZE, row, att.grid, queryCell(q));
  const [, most] = finiteRange(row);
  const scale = colourScale(0, most);
  const x2 = 10 + ROLLOUT_SIZE + gap;
  drawValueCells(ctx, att.grid, att.grid, (r, c) => row[r * att.grid + c], scale, x2, 30, ROLLOUT_SIZE, ROLLOUT_SIZE);
  drawLegend(ctx, scale, x2, 30 + ROLLOUT_SIZE + 8, ROLLOUT_SIZE, 'rolled-out attention');
}

// ---------------------------------------------------------------- per-head charts


const CHART = {width: 460, height: 250, left: 52, right: 16, top: 30, bottom: 40};

// One dot per head per block; the chosen block's dots in orange, the chosen head ringed.
function drawPerHeadChart(canvas, values, title, yLabel, ceiling) {
  const layers = values.length;
  const flat = values.flat().filter(Number.isFinite);
  const {top: yMax, step: yStep} = niceTicks(Math.max(ceiling || 0, ...flat) * 1.05);
  const {width, height, left, right, top, bottom} = CHART;
  const ctx = prepareCanvas(canvas, width, height);
  drawTitle(ctx, title, left, 6);
  const plotW = width - left - right, plotH = height - top - bottom;
  const xOf = (layer, head, heads) => left + (layer + 0.5 + (heads > 1 ? (head / (heads - 1) - 0.5) * 0.5 : 0)) / layers * plotW;
  const yOf = v => top + plotH - v / yMax * plotH;
  ctx.strokeStyle = GRID;
  ctx.fillStyle = MUTED;
  ctx.font = FONT_SMALL;
  ctx.textAlign = 'right';
  ctx.textBaseline = 'middle';
  for (let v = 0; v <= yMax + yStep / 2; v += yStep) {
    const y = yOf(v);
    ctx.beginPath();
    ctx.moveTo(left, y);
    ctx.lineTo(width - right, y);
    ctx.stroke();
    ctx.fillText(formatValue(v), left - 5, y);
  }
  ctx.textAlign = 'center';
  ctx.textBaseline = 'top';
  const every = Math.ceil(layers / 12);
  for (let l = 0; l < layers; l += every) ctx.fillText(String(l), xOf(l, 0, 1), top + plotH + 4);
  ctx.fillText('block', left + plotW / 2, top + plotH + 20);
  drawVerticalText(ctx, yLabel, 14, top + plotH / 2);
  if (ceiling) {
    ctx.strokeStyle = '#cf222e';
    ctx.setLineDash([5, 4]);
    ctx.beginPath();
    ctx.moveTo(left, yOf(ceiling));
    ctx.lineTo(width - right, yOf(ceiling));
    ctx.stroke();
    ctx.setLineDash([]);
    const label = `ln N = ${formatValue(ceiling)}: uniform`;
    ctx.font = FONT_SMALL;
    const w = ctx.measureText(label).width;
    ctx.fillStyle = 'rgba(255,255,255,0.85)';
    ctx.fillRect(left + 4, yOf(ceiling) - 17, w + 6, 14);
    ctx.fillStyle = '#cf222e';
    ctx.textAlign = 'left';
    ctx.textBaseline = 'bottom';
    ctx.fillText(label, left + 7, yOf(ceiling) - 4);
  }
  const dots = [];
  values.forEach((heads, l) => heads.forEach((v, h) => {
    if (!Number.isFinite(v)) return;
    const x = xOf(l, h, heads.length), y = yOf(v);
    dots.push({x, y, layer: l, head: h});
    ctx.fillStyle = l === vit.layer ? QUERY_COLOUR : '#3b6fb6';
    ctx.globalAlpha = l === vit.layer ? 1 : 0.75;
    ctx.beginPath();
    ctx.arc(x, y, 3.5, 0, 2 * Math.PI);
    ctx.fill();
    ctx.globalAlpha = 1;
    if (l === vit.layer && h === vit.head) {
      ctx.strokeStyle = INK;
      ctx.lineWidth = 2;
      ctx.beginPath();
      ctx.arc(x, y, 7, 0, 2 * Math.PI);
      ctx.stroke();
      ctx.lineWidth = 1;
    }
  }));
  canvas.dots = dots;
  ctx.textAlign = 'left';
  ctx.textBaseline = 'alphabetic';
}

function drawVitCharts() {
  const att = vitAttention();
  if (att.distance) drawPerHeadChart($('vit-distance'), att.distance, 'mean attention distance per head', 'pixels', 0);
  if (att.entropy) drawPerHeadChart($('vit-entropy'), att.entropy, 'attention entropy per head', 'nats', att.entropy_max);
}

function chooseDotUnderPointer(event) {
  const canvas = event.currentTarget, rect = canvas.getBoundingClientRect();
  const px = event.clientX - rect.left, py = event.clientY - rect.top;
  let best = null, bestD = 100;
  for (const dot of canvas.dots || []) {
    const d = (dot.x - px) ** 2 + (dot.y - py) ** 2;
    if (d < bestD) { best = dot; bestD = d; }
  }
  if (!best) return;
  vit.layer = best.layer;
  vit.head = best.head;
  $('vit-layer').value = String(vit.layer);
  $('vit-head').value = String(vit.head);
  showQueryAttention();
}

// ---------------------------------------------------------------- wiring

function showQueryAttention() {
  const att = vitAttention(), q = shownQuery();
  const entry = att.layers[vit.layer];
  showNote('vit-note', pooledNote() + (entry.probs ? '' : `The attention of block ${vit.layer} is not in this page. `) +
           untrainedNote());
  setText('vit-query-label', `now: ${vitTokenName(q)}` + (vit.preview !== null ? ' (pointing; click to keep)' : ''));
  drawVitQuery();
  drawVitQueryMap();
  drawVitHeads();
  drawVitRollout();
  drawVitCharts();
  const share = prefixShare(vit.layer, vit.head, q);
  setText('vit-query-caption',
    `The attention of ${vitTokenName(q)} over the ${att.grid}×${att.grid} ${units()} (softmax of ${entry.step}` +
    `${vit.head === 'mean' ? ', averaged over the heads' : ', head ' + vit.head}).` +
    (share ? ` To the prefix tokens, not drawn: ${share}.` : '') + ' Point at a patch to make it the query.');
  setText('vit-query-map-caption', 'Point at a key patch to read its weight; click one to make it the query.');
  setText('vit-heads-caption', `Each head looks elsewhere: ${entry.heads} heads, same query. Click one to choose it.`);
  setText('vit-rollout-caption', att.rollout
    ? `Row "${vitTokenName(q)}" of the rollout, over the patches. Which patches reach the query through every block.` : '');
}

function vitPatchUnderPointer(event, canvas, x, y, size) {
  const att = vitAttention();
  const cell = cellAt(canvas, event, {x, y, w: size, h: size}, att.grid, att.grid);
  return cell ? att.prefix + cell.row * att.grid + cell.col : null;
}

// Pointing at a patch of the image previews it as the query; a click keeps it.
function makeQueryPicker(canvas, x, y, size, preview) {
  if (preview) {
    canvas.addEventListener('mousemove', event => {
      const t = vitPatchUnderPointer(event, canvas, x, y, size);
      if (t === vit.preview) return;
      vit.preview = t;
      showQueryAttention();
    });
    canvas.addEventListener('mouseleave', () => {
      if (vit.preview === null) return;
      vit.preview = null;
      showQueryAttention();
    });
  }
  canvas.addEventListener('click', event => {
    const t = vitPatchUnderPointer(event, canvas, x, y, size);
    if (t === null) return;
    vit.query = t;
    vit.preview = null;
    showQueryAttention();
  });
}

// Pointing at a key patch of the colour map reads its weight.
function readKeyWeight(event) {
  const t = vitPatchUnderPointer(event, $('vit-query-map'), MAP_LEFT, MAP_TOP, MAP_SIDE);
  const row = attentionRow(vit.layer, vit.head, shownQuery());
  if (t === null || !row) return;
  setText('vit-query-map-caption',
    `key ${vitTokenName(t)}: ${formatValue(row[t - vitAttention().prefix])} of the attention of ${vitTokenName(shownQuery())}. ` +
    'Click to make it the query.');
}

function setUpVitAttention() {
  const att = vitAttention();
  if (att.pool > 1) {  // from here on the attention's grid is the grid of cells
    att.patches = att.grid;
    att.grid = att.cells;
  }
  const drawn = att.layers.filter(l => l.probs);
  vit.layer = drawn.length ? drawn[drawn.length - 1].layer : att.layers.length - 1;
  vit.query = att.prefix > 0 ? 0 : att.prefix + Math.floor(att.grid / 2) * att.grid + Math.floor(att.grid / 2);
  const heads = att.layers.length ? att.layers[0].heads : 0;
  fillSelect($('vit-layer'), att.layers.map(l => [l.layer, `${l.layer} (${l.step})`]), vit.layer);
  fillSelect($('vit-head'), [['mean', 'mean of heads'], ...[...Array(heads).keys()].map(h => [h, `head ${h}`])], vit.head);
  $('vit-layer').addEventListener('change', e => { vit.layer = Number(e.target.value); showQueryAttention(); });
  $('vit-head').addEventListener('change', e => {
    vit.head = e.target.value === 'mean' ? 'mean' : Number(e.target.value);
    showQueryAttention();
  });
  $('vit-fusion').addEventListener('change', e => { vit.fusion = e.target.value; drawVitRollout(); });
  if (PREFIX_NAMES.length) {
    $('vit-prefix').replaceChildren('Query:', ...PREFIX_NAMES.map((name, t) => el('button', {
      type: 'button', title: `make the ${name} the query`,
      onclick: () => { vit.query = t; vit.preview = null; showQueryAttention(); }}, name)));
  }
  makeQueryPicker($('vit-query'), QUERY_PAD, QUERY_TITLE, QUERY_SIZE, true);
  makeQueryPicker($('vit-query-map'), MAP_LEFT, MAP_TOP, MAP_SIDE, false);
  makeQueryPicker($('vit-rollout'), 10, 30, ROLLOUT_SIZE, false);
  $('vit-query-map').addEventListener('mousemove', readKeyWeight);
  $('vit-heads').addEventListener('click', event => {
    const h = headUnderPointer(event);
    if (h === null) return;
    vit.head = h;
    $('vit-head').value = String(h);
    showQueryAttention();
  });
  $('vit-distance').addEventListener('click', chooseDotUnderPointer);
  $('vit-entropy').addEventListener('click', chooseDotUnderPointer);
  showQueryAttention();
}
