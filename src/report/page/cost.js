// cost.js: what the models cost: multiply-adds per layer split by kind, and
// how the total and the attention grow with the image size (log-log).

const COST_KINDS = [
  ['projections', '#3b6fb6', 'projections (qkv, proj)'],
  ['attention', '#e0702b', 'attention (q·kᵀ, attention·v)'],
  ['mlp', '#3e9651', 'MLP (fc1, fc2)'],
  ['other', '#9aa3ad', 'other (patch merging)'],
];
const MODEL_COLOURS = ['#0969da', '#bf3989', '#1a7f37', '#9a6700', '#8250df'];

function shortLayerName(name) {
  const m = /(\d+)$/.exec(name);
  return m ? m[1] : name;
}

function layerWord(model) {
  return model.family === 'swin' ? 'stage' : 'block';
}

function drawLegendRow(ctx, entries, x, y) {
  ctx.font = FONT_SMALL;
  ctx.textBaseline = 'middle';
  for (const [colour, label, dashed] of entries) {
    ctx.fillStyle = colour;
    if (dashed !== undefined) {
      ctx.strokeStyle = colour;
      ctx.lineWidth = 2;
      ctx.setLineDash(dashed ? [5, 3] : []);
      ctx.beginPath();
      ctx.moveTo(x, y); ctx.lineTo(x + 18, y);
      ctx.stroke();
      ctx.setLineDash([]);
      x += 22;
    } else {
      ctx.fillRect(x, y - 5, 10, 10);
      x += 14;
    }
    ctx.fillStyle = INK;
    ctx.fillText(label, x, y);
    x += ctx.measureText(label).width + 18;
  }
  ctx.textBaseline = 'alphabetic';
}

// One stacked bar per layer of each model, on one shared scale.
function drawLayerCostBars() {
  const models = DATA.cost.models;
  const canvas = $('cost-layers');
  const bars = models.reduce((n, m) => n + m.layers.length, 0);
  const width = Math.min(1200, Math.max(760, 140 + bars * 56 + models.length * 60), $('cost').clientWidth - 44), height = 360;
  const left = 70, right = 16, top = 56, bottom = 70;
  const ctx = prepareCanvas(canvas, width, height);
  drawTitle(ctx, 'multiply-adds per layer, by kind', left, 6);
  drawLegendRow(ctx, COST_KINDS.map(([, colour, label]) => [colour, label]), left, 34);
  const groupGap = 40, plotW = width - left - right - groupGap * (models.length - 1), plotH = height - top - bottom;
  const slot = plotW / Math.max(1, bars), barW = Math.min(40, slot * 0.7);
  const {top: yMax, step: yStep} = niceTicks(Math.max(1, ...models.flatMap(m => m.layers.map(l => l.macs.total))));
  const yOf = v => top + plotH - v / yMax * plotH;
  ctx.font = FONT_SMALL;
  ctx.textAlign = 'right';
  ctx.textBaseline = 'middle';
  for (let v = 0; v <= yMax + yStep / 2; v += yStep) {
    ctx.strokeStyle = GRID;
    ctx.beginPath();
    ctx.moveTo(left, yOf(v));
    ctx.lineTo(width - right, yOf(v));
    ctx.stroke();
    ctx.fillStyle = MUTED;
    ctx.fillText(humanCount(v), left - 6, yOf(v));
  }
  drawVerticalText(ctx, 'MACs per layer', 14, top + plotH / 2);
  let x = left;
  const hits = [];
  models.forEach(model => {
    const start = x;
    model.layers.forEach(layer => {
      const bx = x + (slot - barW) / 2;
      let y = top + plotH;
      for (const [kind, colour] of COST_KINDS) {
        const h = (layer.macs[kind] || 0) / yMax * plotH;
        ctx.fillStyle = colour;
        ctx.fillRect(bx, y - h, barW, h);
        y -= h;
      }
      hits.push({x0: x, x1: x + slot, model, layer});
      ctx.fillStyle = MUTED;
      ctx.textAlign = 'center';
      ctx.textBaseline = 'top';
      if (barW >= 8 || model.layers.length <= 24) ctx.fillText(shortLayerName(layer.name), x + slot / 2, top + plotH + 4);
      x += slot;
    });
    ctx.fillStyle = INK;
    ctx.font = FONT_BOLD;
    ctx.textAlign = 'center';
    const groupWidth = x - start + groupGap - 8;
    fitText(ctx, `${model.model}: ${layerWord(model)}s`, (start + x) / 2, top + plotH + 22, groupWidth, 'bold');
    ctx.fillStyle = MUTED;
    fitText(ctx, `${humanMacs(model.total_macs)} at ${model.image_size} px, with embedding ${humanCount(model.embed_macs)}` +
                 ` and head ${humanCount(model.head_macs)}`, (start + x) / 2, top + plotH + 38, groupWidth);
    x += groupGap;
  });
  ctx.textAlign = 'left';
  ctx.textBaseline = 'alphabetic';
  canvas.hits = hits;
  setText('cost-layers-caption', 'Point at a bar to read it. Each bar is one ' +
          models.map(m => `${layerWord(m)} of ${m.model}`).join(', one ') + '; the embedding and the head are left out of the bars.');
}

function readCostBar(event) {
  const canvas = $('cost-layers'), rect = canvas.getBoundingClientRect();
  const px = event.clientX - rect.left;
  const hit = (canvas.hits || []).find(h => px >= h.x0 && px < h.x1);
  if (!hit) return;
  const l = hit.layer;
  setText('cost-layers-caption', `${hit.model.model} ${l.name}` + (l.blocks > 1 ? ` (${l.blocks} blocks)` : '') +
          `: ${l.tokens} tokens, ${l.channels} channels, ${l.heads} heads · total ${humanMacs(l.macs.total)} = ` +
          COST_KINDS.map(([kind]) => `${kind} ${humanCount(l.macs[kind] || 0)}`).join(' + '));
}

const GROWTH_SIZES = [32, 64, 96, 128, 160, 192, 224, 256, 320, 384, 448, 512, 576, 640, 768, 896, 1024];

// Total and attention MACs against the image side, both axes logarithmic.
function drawGrowthCurves() {
  const growth = DATA.cost.growth.filter(g => g.points && g.points.length);
  const canvas = $('cost-growth');
  const width = Math.min(900, Math.max(600, $('cost').clientWidth - 24)), height = 400;
  const left = 74, right = 20, top = 56, bottom = 48;
  const ctx = prepareCanvas(canvas, width, height);
  drawTitle(ctx, 'growth with the image size (log–log)', left, 6);
  drawLegendRow(ctx, growth.flatMap((g, i) => [[MODEL_COLOURS[i % MODEL_COLOURS.length], `${g.model} total`, false],
                                               [MODEL_COLOURS[i % MODEL_COLOURS.length], 'attention', true]]), left, 34);
  if (!growth.length) return;
  const points = growth.flatMap(g => g.points);
  const sizes = points.map(p => p.image_size);
  const values = points.flatMap(p => [p.total, p.attention]).filter(v => v > 0);
  const x0 = Math.log10(Math.min(...sizes)), x1 = Math.log10(Math.max(...sizes));
  const y0 = Math.floor(Math.log10(Math.min(...values))), y1 = Math.ceil(Math.log10(Math.max(...values)));
  const plotW = width - left - right, plotH = height - top - bottom;
  const xOf = s => left + (x1 > x0 ? (Math.log10(s) - x0) / (x1 - x0) : 0.5) * plotW;
  const yOf = v => top + plotH - (Math.log10(v) - y0) / Math.max(1, y1 - y0) * plotH;
  ctx.font = FONT_SMALL;
  // y: decades labelled, 2× and 5× as faint lines
  for (let e = y0; e <= y1; e++) {
    for (const m of [1, 2, 5]) {
      const v = m * Math.pow(10, e);
      if (Math.log10(v) > y1) continue;
      ctx.strokeStyle = m === 1 ? GRID : '#eef1f4';
      ctx.beginPath();
      ctx.moveTo(left, yOf(v));
      ctx.lineTo(width - right, yOf(v));
      ctx.stroke();
      if (m === 1 || y1 - y0 <= 2) {
        ctx.fillStyle = MUTED;
        ctx.textAlign = 'right';
        ctx.textBaseline = 'middle';
        ctx.fillText(humanCount(v), left - 6, yOf(v));
      }
    }
  }
  // x: the usual image sizes inside the range, never too close together
  let lastX = -Infinity;
  const ticks = GROWTH_SIZES.filter(s => s >= Math.pow(10, x0) - 0.5 && s <= Math.pow(10, x1) + 0.5);
  for (const s of ticks) {
    const x = xOf(s);
    ctx.strokeStyle = '#eef1f4';
    ctx.beginPath();
    ctx.moveTo(x, top);
    ctx.lineTo(x, top + plotH);
    ctx.stroke();
    if (x - lastX < 34) continue;
    ctx.fillStyle = MUTED;
    ctx.textAlign = 'center';
    ctx.textBaseline = 'top';
    ctx.fillText(String(s), x, top + plotH + 5);
    lastX = x;
  }
  ctx.strokeStyle = '#8c959f';
  ctx.strokeRect(left + 0.5, top + 0.5, plotW, plotH);
  ctx.fillStyle = INK;
  ctx.textAlign = 'center';
  ctx.textBaseline = 'top';
  ctx.fillText('image side, pixels', left + plotW / 2, top + plotH + 24);
  drawVerticalText(ctx, 'MACs', 14, top + plotH / 2);
  const hits = [];
  growth.forEach((g, i) => {
    const colour = MODEL_COLOURS[i % MODEL_COLOURS.length];
    for (const [field, dashed] of [['total', false], ['attention', true]]) {
      const pts = g.points.filter(p => p[field] > 0);
      ctx.strokeStyle = colour;
      ctx.lineWidth = 2;
      ctx.setLineDash(dashed ? [6, 4] : []);
      ctx.beginPath();
      pts.forEach((p, k) => (k ? ctx.lineTo : ctx.moveTo).call(ctx, xOf(p.image_size), yOf(p[field])));
      ctx.stroke();
      ctx.setLineDash([]);
      for (const p of pts) {
        const x = xOf(p.image_size), y = yOf(p[field]);
        ctx.beginPath();
        ctx.arc(x, y, 3, 0, 2 * Math.PI);
        ctx.fillStyle = dashed ? '#ffffff' : colour;
        ctx.fill();
        ctx.lineWidth = 1.5;
        ctx.stroke();
        hits.push({x, y, model: g.model, field, point: p});
      }
    }
  });
  ctx.lineWidth = 1;
  ctx.textAlign = 'left';
  ctx.textBaseline = 'alphabetic';
  canvas.hits = hits;
  setText('cost-growth-caption', 'Solid: all multiply-adds (embedding and head included); dashed: attention alone (q·kᵀ and attention·v). ' +
          'A straight line of slope 2 grows with the number of tokens, of slope 4 with its square. Point at a dot to read it.');
}

function readGrowthPoint(event) {
  const canvas = $('cost-growth'), rect = canvas.getBoundingClientRect();
  const px = event.clientX - rect.left, py = event.clientY - rect.top;
  let best = null, bestD = 150;
  for (const h of canvas.hits || []) {
    const d = (h.x - px) ** 2 + (h.y - py) ** 2;
    if (d < bestD) { best = h; bestD = d; }
  }
  if (!best) return;
  const p = best.point;
  setText('cost-growth-caption', `${best.model} at ${p.image_size} px (${withCommas(p.tokens)} tokens in the first layer): ` +
          `total ${humanMacs(p.total)}, attention ${humanCount(p.attention)}, projections ${humanCount(p.projections)}, ` +
          `MLP ${humanCount(p.mlp)}, other ${humanCount(p.other)}`);
}

function showCost() {
  const cost = DATA.cost;
  if (!cost || !cost.models || !cost.models.length) {
    $('cost').hidden = true;
    return;
  }
  if (DATA.kind === 'cost') setText('cost-title', `Cost: ${cost.models.map(m => m.model).join(' vs ')}`);
  drawLayerCostBars();
  drawGrowthCurves();
  $('cost-layers').addEventListener('mousemove', readCostBar);
  $('cost-growth').addEventListener('mousemove', readGrowthPoint);
}
