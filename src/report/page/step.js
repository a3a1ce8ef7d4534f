// step.js: one step, opened: a heat map of a 2-D slice of its values, a
// slider for every other axis, the histogram and statistics, the token under
// the pointer on the input, and the C++ function that recorded the step.

const MAP_MAX_W = 380, MAP_MAX_H = 360, MAP_MIN_W = 200, MAP_MIN_H = 120, CELL_MAX = 32;
const MAP_MARGIN = {left: 58, top: 40, right: 14, bottom: 58};

const stepView = {
  step: null,
  values: null,      // {kind, pool, shape, data, range} or null when the page has none
  rows: 0, cols: 1,  // the axes shown as rows and columns (-1: a single row)
  fixed: [],         // the position of every other axis
  sliceScale: false, // colours over this slice only, instead of the whole tensor
  box: null,         // where the cells are on the canvas
  pinned: null,      // the index clicked on, kept when the pointer leaves
};

// The step's values as the page holds them, decoded when first opened.
function stepValues(step) {
  if (!step.values) return null;
  const blob = decodeBlob(step.values.blob);
  if (!blob.range) blob.range = finiteRange(blob.data);
  return {kind: step.values.kind, pool: step.values.pool || step.shape.map(() => 1),
          shape: blob.shape, data: blob.data, range: blob.range};
}

// Rows × cols by default: the last two axes; an image's height × width with
// its colour channel on a slider; a Swin grid's H × W with the channels on a slider.
function defaultAxes(dims) {
  const pairs = [['img_h', 'img_w'], ['H', 'W'], ['h', 'w']];
  for (const [a, b] of pairs) {
    if (dims.includes(a) && dims.includes(b)) return [dims.indexOf(a), dims.indexOf(b)];
  }
  if (dims.length >= 2) return [dims.length - 2, dims.length - 1];
  return [-1, dims.length - 1];
}

function openStep(index) {
  const step = DATA.steps[index];
  stepView.step = step;
  stepView.values = stepValues(step);
  stepView.pinned = null;
  setText('step-readout', stepView.values ? 'Point at the map to read a value; click to keep a token outlined.'
                                          : 'The values of this step are not in the page: see the statistics below.');
  const shape = stepView.values ? stepView.values.shape : step.shape;
  [stepView.rows, stepView.cols] = defaultAxes(step.dims);
  stepView.fixed = shape.map(() => 0);
  showStepHeader(step);
  buildAxisControls(step);
  drawStepHeatmap();
  drawStepHistogram();
  showStepStats(step);
  showStepSource(step);
  markOpenedRow(index);
  keepStepInView(index);  // after every change above: the page is laid out once
}

function showStepHeader(step) {
  setText('step-title', step.name);
  $('step-meta').replaceChildren(
    el('span', {class: 'badge'}, step.op),
    ' ', el('code', {}, shapeText(step.shape, step.dims)),
    step.macs ? `  ·  ${humanMacs(step.macs)}` : '',
    `  ·  ${humanMs(step.time_ms)}`,
    `  ·  step ${step.index + 1} of ${DATA.steps.length}`);
  const v = stepView.values;
  let note = '';
  if (!v) {
    note = 'The full values of this step are not in the page: it holds its statistics and first values only. ' +
           `To include them, run: vitrace report ... --steps '${step.name}'`;
  } else if (v.kind === 'pooled') {
    const along = v.pool.map((p, d) => (p > 1 ? `${p} along ${step.dims[d]}` : null)).filter(Boolean).join(', ');
    note = `Pooled: each cell is the mean of a block of ${v.pool.join(' × ')} entries (${along}), ` +
           `stored in half precision, so the values shown are approximate. The statistics below are exact. ` +
           `For every value: vitrace report ... --steps '${step.name}'`;
  }
  showNote('step-note', note);
  $('step-note').classList.toggle('warn', !v);
}

function axisLabel(step, d) {
  return `${step.dims[d]} (${step.shape[d]})`;
}

// The original positions that pooled position i of axis d covers: [first, last].
function axisSpan(d, i) {
  const pool = stepView.values ? stepView.values.pool[d] : 1;
  const first = i * pool;
  return [first, Math.min(first + pool, stepView.step.shape[d]) - 1];
}

function spanText(d, i) {
  const [a, b] = axisSpan(d, i);
  return a === b ? String(a) : `${a}–${b}`;
}

function buildAxisControls(step) {
  const box = $('step-axes');
  box.replaceChildren();
  const v = stepView.values;
  if (!v) return;
  const rank = v.shape.length;
  if (rank >= 2) {
    const options = v.shape.map((_, d) => [d, `axis ${d}: ${axisLabel(step, d)}`]);
    const rows = el('select', {id: 'step-rows', 'aria-label': 'axis shown as rows'});
    const cols = el('select', {id: 'step-cols', 'aria-label': 'axis shown as columns'});
    fillSelect(rows, options, stepView.rows);
    fillSelect(cols, options, stepView.cols);
    const choose = (which, other) => event => {
      const d = Number(event.target.value);
      if (stepView[other] === d) stepView[other] = stepView[which];  // a swap
      stepView[which] = d;
      stepView.pinned = null;
      buildAxisControls(step);
      drawStepHeatmap();
    };
    rows.addEventListener('change', choose('rows', 'cols'));
    cols.addEventListener('change', choose('cols', 'rows'));
    box.append(el('label', {}, 'rows ', rows), el('label', {}, 'columns ', cols));
  }
  const scale = el('input', {type: 'checkbox', id: 'step-slice-scale'});
  scale.checked = stepView.sliceScale;
  scale.addEventListener('change', () => { stepView.sliceScale = scale.checked; drawStepHeatmap(); });
  box.append(el('label', {title: 'colour range of this slice only, instead of the whole tensor'}, scale, ' colours: this slice'));

  const sliders = el('div', {class: 'sliders'});
  for (let d = 0; d < rank; d++) {
    if (d === stepView.rows || d === stepView.cols) continue;
    const out = el('output', {}, '');
    const slider = el('input', {type: 'range', min: 0, max: v.shape[d] - 1, step: 1, value: stepView.fixed[d],
                                'aria-label': step.dims[d], 'data-axis': d});
    const show = () => {
      const pooled = v.pool[d] > 1 ? ` (block ${stepView.fixed[d]} of ${v.shape[d]})` : '';
      out.textContent = `${step.dims[d]} = ${spanText(d, stepView.fixed[d])} of 0–${step.shape[d] - 1}${pooled}`;
    };
    slider.addEventListener('input', () => {
      stepView.fixed[d] = Number(slider.value);
      show();
      drawStepHeatmap();
    });
    show();
    sliders.append(el('label', {class: 'slider'}, el('span', {class: 'axis-name'}, step.dims[d]), slider, out));
  }
  if (sliders.childElementCount) box.append(sliders);
}

// The slice as a strided view of the values: rows × cols, cell (r, c) at
// data[base + r * rowStride + c * colStride].
function currentSlice() {
  const v = stepView.values;
  const strides = stridesOf(v.shape);
  let base = 0;
  v.shape.forEach((_, d) => {
    if (d !== stepView.rows && d !== stepView.cols) base += stepView.fixed[d] * strides[d];
  });
  const rowAxis = stepView.rows, colAxis = stepView.cols;
  return {rows: rowAxis < 0 ? 1 : v.shape[rowAxis], cols: v.shape[colAxis], data: v.data, base,
          rowStride: rowAxis < 0 ? 0 : strides[rowAxis], colStride: strides[colAxis]};
}

function sliceRange(slice) {
  let min = Infinity, max = -Infinity;
  for (let r = 0; r < slice.rows; r++) {
    for (let c = 0, at = slice.base + r * slice.rowStride; c < slice.cols; c++, at += slice.colStride) {
      const x = slice.data[at];
      if (x - x !== 0) continue;
      if (x < min) min = x;
      if (x > max) max = x;
    }
  }
  return min <= max ? [min, max] : [0, 0];
}

// Cell sizes that fit the panel: square when they can be, never thinner than
// the minimum box nor larger than CELL_MAX.
function mapBox(rows, cols) {
  let cw = Math.min(MAP_MAX_W / cols, MAP_MAX_H / rows, CELL_MAX), ch = cw;
  if (cols * cw < MAP_MIN_W) cw = Math.min(MAP_MIN_W / cols, CELL_MAX * 4);
  if (rows * ch < MAP_MIN_H) ch = Math.min(MAP_MIN_H / rows, CELL_MAX);
  return {x: MAP_MARGIN.left, y: MAP_MARGIN.top, w: cols * cw, h: rows * ch};
}

function drawStepHeatmap() {
  const canvas = $('step-heatmap');
  const step = stepView.step, v = stepView.values;
  $('step-hoverbox').hidden = true;
  if (!v) {
    drawMessage(canvas, 420, 200, ['The full values of this step are not in the page.',
                                   `first values: ${(step.summary || []).slice(0, 4).map(formatValue).join(', ')}, …`,
                                   `vitrace report ... --steps '${step.name}'`]);
    stepView.box = null;
    setText('step-heatmap-caption', `${step.name}: values not in the page.`);
    showStepTokens(null);
    return;
  }
  const slice = currentSlice();
  const range = stepView.sliceScale ? sliceRange(slice) : v.range;
  const scale = colourScale(range[0], range[1]);
  const box = mapBox(slice.rows, slice.cols);
  stepView.box = box;
  const width = Math.max(box.x + box.w + MAP_MARGIN.right, 300), height = box.y + box.h + MAP_MARGIN.bottom;
  const ctx = prepareCanvas(canvas, width, height);
  drawStridedCells(ctx, slice, scale, box.x, box.y, box.w, box.h);
  ctx.strokeStyle = '#8c959f';
  ctx.lineWidth = 1;
  ctx.strokeRect(box.x - 0.5, box.y - 0.5, box.w + 1, box.h + 1);
  drawMapAxes(ctx, step, box, slice);
  const legendWidth = Math.min(260, Math.max(160, box.w));
  drawLegend(ctx, scale, box.x, box.y + box.h + 12, legendWidth,
             (scale.kind === 'diverging' ? 'diverging, centred at 0' : 'sequential') +
             (stepView.sliceScale ? ' · range of this slice' : ' · range of the whole tensor'));

  const fixed = v.shape.map((_, d) => d).filter(d => d !== stepView.rows && d !== stepView.cols)
    .map(d => `${step.dims[d]} = ${spanText(d, stepView.fixed[d])}`);
  setText('step-heatmap-caption',
    `${step.name}: ${stepView.rows < 0 ? 'one row' : 'rows = ' + step.dims[stepView.rows]}, ` +
    `columns = ${step.dims[stepView.cols]}` + (fixed.length ? `, at ${fixed.join(', ')}` : '') +
    (v.kind === 'pooled' ? ' (pooled block means)' : '') + '.');
  showStepTokens(stepView.pinned);
}

function drawMapAxes(ctx, step, box, slice) {
  ctx.fillStyle = MUTED;
  ctx.font = FONT_SMALL;
  const colAxis = stepView.cols, rowAxis = stepView.rows;
  // column axis: name above, first and last positions at the ends
  ctx.textBaseline = 'bottom';
  ctx.textAlign = 'left';
  ctx.fillText(spanText(colAxis, 0).split('–')[0], box.x, box.y - 3);
  ctx.textAlign = 'right';
  ctx.fillText(spanText(colAxis, slice.cols - 1).split('–').pop(), box.x + box.w, box.y - 3);
  ctx.textAlign = 'center';
  ctx.fillStyle = INK;
  ctx.font = FONT;
  ctx.fillText(`columns: ${axisLabel(step, colAxis)} →`, box.x + box.w / 2, box.y - 18);
  // row axis: name rotated on the left
  ctx.font = FONT_SMALL;
  ctx.fillStyle = MUTED;
  ctx.textAlign = 'right';
  ctx.textBaseline = 'top';
  if (rowAxis >= 0) {
    ctx.fillText(spanText(rowAxis, 0).split('–')[0], box.x - 4, box.y);
    ctx.textBaseline = 'bottom';
    ctx.fillText(spanText(rowAxis, slice.rows - 1).split('–').pop(), box.x - 4, box.y + box.h);
  }
  ctx.fillStyle = INK;
  ctx.font = FONT;
  drawVerticalText(ctx, rowAxis >= 0 ? `rows: ${axisLabel(step, rowAxis)} →` : 'one row', box.x - 30, box.y + box.h / 2);
  ctx.textAlign = 'left';
  ctx.textBaseline = 'alphabetic';
}

// The full index (one position per axis of the values) of map cell (r, c).
function indexOfCell(r, c) {
  const index = stepView.fixed.slice();
  if (stepView.rows >= 0) index[stepView.rows] = r;
  index[stepView.cols] = c;
  return index;
}

function readIndex(index) {
  const v = stepView.values, strides = stridesOf(v.shape);
  return v.data[index.reduce((sum, i, d) => sum + i * strides[d], 0)];
}

function indexText(index) {
  const step = stepView.step;
  return index.map((i, d) => `${step.dims[d]} ${spanText(d, i)}`).join(', ');
}

// Where the pointer is over the map: the readout, the cell's box, the tokens.
function pointAtStepCell(event) {
  const v = stepView.values, box = stepView.box;
  if (!v || !box) return;
  const slice = currentSlice();
  const cell = cellAt($('step-heatmap'), event, box, slice.rows, slice.cols);
  const hover = $('step-hoverbox');
  if (!cell) { leaveStepMap(); return; }
  const index = indexOfCell(cell.row, cell.col);
  const cw = box.w / slice.cols, ch = box.h / slice.rows;
  hover.hidden = false;
  Object.assign(hover.style, {left: `${box.x + cell.col * cw - 1}px`, top: `${box.y + cell.row * ch - 1}px`,
                              width: `${Math.max(cw, 2) + 2}px`, height: `${Math.max(ch, 2) + 2}px`});
  const approx = v.kind === 'pooled' ? ' (mean of the block, approximate)' : '';
  setText('step-readout', `[${indexText(index)}] = ${formatValue(readIndex(index))}${approx}`);
  showStepTokens(index);
}

function leaveStepMap() {
  $('step-hoverbox').hidden = true;
  setText('step-readout', stepView.pinned
    ? `kept: [${indexText(stepView.pinned)}] = ${formatValue(readIndex(stepView.pinned))} (click the map again to let go)`
    : 'Point at the map to read a value; click to keep a token outlined.');
  showStepTokens(stepView.pinned);
}

function clickStepCell(event) {
  const v = stepView.values, box = stepView.box;
  if (!v || !box) return;
  const slice = currentSlice();
  const cell = cellAt($('step-heatmap'), event, box, slice.rows, slice.cols);
  if (!cell) return;
  const index = indexOfCell(cell.row, cell.col);
  const same = stepView.pinned && stepView.pinned.every((i, d) => i === index[d]);
  stepView.pinned = same ? null : index;
  showStepTokens(index);
}

// The small input beside the map: the token(s) under the pointer outlined,
// the first token axis in orange (the query, or the row), the second in blue.
function showStepTokens(index) {
  const step = stepView.step, v = stepView.values;
  const figure = $('step-tokens-figure');
  const possible = v && inputPicture() && tokensAtIndex(step, step.shape.map(() => 0), null).length > 0;
  figure.hidden = !possible;
  if (!possible) return;
  const size = 160, pad = 6;
  const ctx = prepareCanvas($('step-tokens'), size + 2 * pad, size + 2 * pad);
  drawInput(ctx, pad, pad, size);
  if (!index) {
    setText('step-tokens-caption', 'Point at a token of the map to outline its patch on the input.');
    return;
  }
  const start = index.map((i, d) => axisSpan(d, i)[0]);
  const spans = index.map((i, d) => axisSpan(d, i)[1] - axisSpan(d, i)[0] + 1);
  const marks = tokensAtIndex(step, start, spans);
  const colours = [QUERY_COLOUR, KEY_COLOUR];
  const words = [];
  marks.slice(0, 2).forEach((mark, k) => {
    const cells = mark.tokens.filter(t => t.cell).map(t => t.cell);
    outlineCells(ctx, cells, pad, pad, size, colours[k]);
    const role = marks.length > 1 ? (k === 0 ? 'orange (query)' : 'blue (key)') : 'orange';
    const prefix = mark.tokens.filter(t => !t.cell).map(t => t.name);
    const names = mark.tokens.length > 3
      ? `${mark.tokens.length} tokens, ${mark.tokens[0].name} to ${mark.tokens[mark.tokens.length - 1].name}`
      : mark.tokens.map(t => t.name).join(', ');
    words.push(`${role}: ${step.dims[mark.axis]} ${spanText(mark.axis, index[mark.axis])} = ${names}` +
               (prefix.length && !cells.length ? ` — the ${prefix.join(', ')} has no patch of its own` : ''));
  });
  setText('step-tokens-caption', words.join('; ') + '.');
}

// The histogram of every value the page holds for the step, coloured as the map.
function drawStepHistogram() {
  const canvas = $('step-histogram');
  const v = stepView.values, step = stepView.step;
  if (!v) {
    drawMessage(canvas, 360, 150, ['No values in the page:', 'the statistics are on the right.']);
    setText('step-histogram-caption', 'Histogram: the values are not in the page.');
    return;
  }
  const width = 360, height = 150, left = 44, right = 10, top = 10, bottom = 34;
  const ctx = prepareCanvas(canvas, width, height);
  const [min, max] = v.range;
  const bins = 60, counts = new Array(bins).fill(0);
  const span = max > min ? max - min : 1;
  let total = 0;
  for (let i = 0; i < v.data.length; i++) {
    const x = v.data[i];
    if (!Number.isFinite(x)) continue;
    counts[Math.min(bins - 1, Math.floor((x - min) / span * bins))]++;
    total++;
  }
  const most = Math.max(...counts, 1);
  const w = (width - left - right) / bins, h = height - top - bottom;
  const scale = colourScale(min, max);
  counts.forEach((count, b) => {
    const centre = min + (b + 0.5) / bins * span;
    ctx.fillStyle = cssColour(scale.table, colourIndex(scale, centre));
    const bh = count / most * h;
    ctx.fillRect(left + b * w, top + h - bh, Math.max(1, w - 1), bh);
  });
  ctx.strokeStyle = '#8c959f';
  ctx.beginPath();
  ctx.moveTo(left, top);
  ctx.lineTo(left, top + h + 0.5);
  ctx.lineTo(width - right, top + h + 0.5);
  ctx.stroke();
  ctx.fillStyle = MUTED;
  ctx.font = FONT_SMALL;
  ctx.textBaseline = 'top';
  ctx.textAlign = 'left';
  ctx.fillText(formatValue(min), left, top + h + 4);
  ctx.textAlign = 'right';
  ctx.fillText(formatValue(max), width - right, top + h + 4);
  if (min < 0 && max > 0) {
    const x0 = left + (0 - min) / span * (width - left - right);
    ctx.textAlign = 'center';
    ctx.fillText('0', x0, top + h + 4);
    ctx.strokeStyle = '#57606a';
    ctx.setLineDash([3, 3]);
    ctx.beginPath();
    ctx.moveTo(x0, top);
    ctx.lineTo(x0, top + h);
    ctx.stroke();
    ctx.setLineDash([]);
  }
  ctx.textAlign = 'center';
  ctx.fillText('value', left + (width - left - right) / 2, top + h + 18);
  ctx.textAlign = 'right';
  ctx.textBaseline = 'top';
  ctx.fillText(withCommas(most), left - 4, top);
  ctx.textBaseline = 'bottom';
  ctx.fillText('0', left - 4, top + h);
  drawVerticalText(ctx, 'count', 12, top + h / 2);
  const what = v.kind === 'pooled' ? `the ${withCommas(total)} block means the page holds` : `all ${withCommas(total)} values`;
  setText('step-histogram-caption', `Histogram of ${what}, ${bins} bins.`);
}

function showStepStats(step) {
  const s = step.stats || {};
  const rows = [
    ['values', withCommas(product(step.shape))],
    ['min', formatValue(s.min)], ['max', formatValue(s.max)],
    ['mean', formatValue(s.mean)], ['std', formatValue(s.std)],
    ['non-finite', String(s.nonfinite || 0)],
    ['first values', (step.summary || []).map(formatValue).join(', ')],
    ['in the page', !step.values ? 'statistics and first values only'
      : step.values.kind === 'pooled' ? `pooled, ${withCommas(product(step.values.blob.shape))} block means`
      : 'every value'],
  ];
  $('step-stats').replaceChildren(...rows.map(([k, v]) => el('tr', {}, el('th', {}, k), el('td', {}, v))));
}

// The C++ function that recorded the step, its recording line highlighted,
// and the timm line it corresponds to.
function showStepSource(step) {
  const box = $('step-source');
  box.replaceChildren();
  const source = step.source;
  const fn = source && DATA.sources ? DATA.sources[source.function] : null;
  if (fn) {
    const lines = fn.text.replace(/\n$/, '').split('\n');
    const pre = el('pre', {class: 'code', id: 'step-source-code'});
    lines.forEach((text, i) => {
      const number = fn.first_line + i;
      const line = el('span', {class: number === source.line ? 'line here' : 'line'},
                      el('span', {class: 'ln'}, String(number)), text + '\n');
      pre.append(line);
    });
    box.append(el('h4', {}, 'vitrace: ', el('code', {}, fn.function), ' in ', el('code', {}, source.file),
                  el('span', {class: 'muted'}, ` — line ${source.line} records this step`)), pre);
  } else {
    box.append(el('h4', {class: 'muted'}, 'vitrace: the source of this step is not in the page.'));
  }
  if (step.timm) {
    box.append(el('h4', {}, 'timm: ', el('code', {}, step.timm.where), ' in ', el('code', {}, step.timm.file)),
               el('pre', {class: 'code timm'}, step.timm.code));
  }
}

// Right after a click on a row the opened step is in sight: the panel is
// sticky, and if the pipeline's top is off screen the page scrolls to it.
// The list shows the row and the source its recording line.
function keepStepInView(index) {
  const panel = $('step-panel');
  panel.scrollTop = 0;
  scrollRowIntoList(index);
  const pre = $('step-source-code'), mark = pre && pre.querySelector('.line.here');
  if (mark) pre.scrollTop = Math.max(0, mark.offsetTop - pre.clientHeight / 2);
  const map = $('step-heatmap').getBoundingClientRect();
  const top = $('topbar').getBoundingClientRect().bottom;
  if (map.top < top || map.bottom > window.innerHeight) {
    // Beside the list (wide screens) the grid's top brings both in view; below it, the panel's own.
    const stacked = panel.getBoundingClientRect().top >= $('step-list').getBoundingClientRect().bottom;
    (stacked ? panel : document.querySelector('.pipeline-grid')).scrollIntoView({block: 'start'});
  }
}

function setUpStepView() {
  const canvas = $('step-heatmap');
  canvas.addEventListener('mousemove', pointAtStepCell);
  canvas.addEventListener('mouseleave', leaveStepMap);
  canvas.addEventListener('click', clickStepCell);
  drawMessage(canvas, 420, 200, ['Click a step in the list to open it:', 'its values appear here as a heat map.']);
  drawMessage($('step-histogram'), 360, 150, ['The histogram of the opened step.']);
}
