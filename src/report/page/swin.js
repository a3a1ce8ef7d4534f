// swin.js: Swin's windows: the window grid over the image, regular or
// shifted; a token's attention inside its window, mapped back through the
// shift; the mask, the relative position index and each head's bias of one
// window; the grid halving at each patch merging.

const swin = {
  stage: 0,
  shifted: false,
  head: 'mean',
  token: {row: 0, col: 0},  // the grid position of the query token, pinned by a click
  preview: null,            // the grid position under the pointer
};

const SWIN_SIZE = 320, SWIN_PAD = 10, SWIN_TOP = 30, TT_SIZE = 200, TT_LEFT = 44, TT_TOP = 48;

function swinStageData() { return DATA.attention.stages[swin.stage]; }

// The block the view shows: the first unshifted one, or the first shifted one.
function swinBlock() {
  const stage = swinStageData();
  return stage.blocks.find(b => (b.shift > 0) === swin.shifted) || stage.blocks[0];
}

// "16 windows", "1 window"
function windowCount(stage) {
  const n = (stage.grid / stage.window) ** 2;
  return `${n} window${n === 1 ? '' : 's'}`;
}

function canShift(stage) { return stage.shift > 0 && stage.blocks.some(b => b.shift > 0); }

function shownToken() { return swin.preview || swin.token; }

// For every grid cell, its window in a block with this shift.
function windowMap(stage, shift) {
  const H = stage.grid, map = new Int32Array(H * H);
  for (let r = 0; r < H; r++) for (let c = 0; c < H; c++) map[r * H + c] = windowOfCell(H, stage.window, shift, r, c).window;
  return map;
}

// Lines between cells of different windows (and the image's edge), in canvas pixels.
function strokeWindowBorders(ctx, H, inWindow, x, y, size, colour, width) {
  const cell = size / H;
  ctx.strokeStyle = colour;
  ctx.lineWidth = width;
  ctx.beginPath();
  for (let r = 0; r < H; r++) for (let c = 0; c < H; c++) {
    const here = inWindow(r, c);
    if (here === null) continue;
    const px = x + c * cell, py = y + r * cell;
    if (c === 0 || inWindow(r, c - 1) !== here) { ctx.moveTo(px, py); ctx.lineTo(px, py + cell); }
    if (c === H - 1 || inWindow(r, c + 1) !== here) { ctx.moveTo(px + cell, py); ctx.lineTo(px + cell, py + cell); }
    if (r === 0 || inWindow(r - 1, c) !== here) { ctx.moveTo(px, py); ctx.lineTo(px + cell, py); }
    if (r === H - 1 || inWindow(r + 1, c) !== here) { ctx.moveTo(px, py + cell); ctx.lineTo(px + cell, py + cell); }
  }
  ctx.stroke();
}

// The connected pieces of each window on the image (a window the shift wraps
// around the edge falls into two or four pieces): [{window, row, col, cells}].
function windowPieces(map, H) {
  const seen = new Uint8Array(H * H), pieces = [];
  for (let start = 0; start < H * H; start++) {
    if (seen[start]) continue;
    const w = map[start], stack = [start];
    let sumR = 0, sumC = 0, count = 0;
    seen[start] = 1;
    while (stack.length) {
      const i = stack.pop(), r = Math.floor(i / H), c = i % H;
      sumR += r; sumC += c; count++;
      for (const [nr, nc] of [[r - 1, c], [r + 1, c], [r, c - 1], [r, c + 1]]) {
        const j = nr * H + nc;
        if (nr < 0 || nc < 0 || nr >= H || nc >= H || seen[j] || map[j] !== w) continue;
        seen[j] = 1;
        stack.push(j);
      }
    }
    pieces.push({window: w, row: sumR / count, col: sumC / count, cells: count});
  }
  return pieces;
}

function drawWindowGrid() {
  const stage = swinStageData(), block = swinBlock(), H = stage.grid, M = stage.window;
  const canvas = $('swin-windows');
  const ctx = prepareCanvas(canvas, SWIN_SIZE + 2 * SWIN_PAD, SWIN_TOP + SWIN_SIZE + SWIN_PAD);
  const shift = block.shift;
  drawTitle(ctx, `stage ${stage.stage}, block ${block.block}: ` + (shift ? `windows shifted by ${shift}` : 'regular windows'),
            SWIN_PAD, 4);
  drawSubtitle(ctx, `${H}×${H} tokens of ${stage.cell_px} px, ${windowCount(stage)} of ${M}×${M}` +
               (shift ? ', in image coordinates' : ''), SWIN_PAD, 26);
  const x = SWIN_PAD, y = SWIN_TOP, cell = SWIN_SIZE / H;
  drawInput(ctx, x, y, SWIN_SIZE);
  const map = windowMap(stage, shift);
  for (let i = 0; i < H * H; i++) {
    ctx.fillStyle = windowTint(map[i], shift ? 0.38 : 0.2);
    ctx.fillRect(x + (i % H) * cell, y + Math.floor(i / H) * cell, cell + 0.5, cell + 0.5);
  }
  if (cell >= 4) drawGridLines(ctx, H, x, y, SWIN_SIZE, 'rgba(255,255,255,0.35)', 1);
  strokeWindowBorders(ctx, H, (r, c) => map[r * H + c], x, y, SWIN_SIZE, '#ffffff', 2.5);
  // Window numbers, on every piece big enough to hold one.
  ctx.font = FONT_BOLD;
  ctx.textAlign = 'center';
  ctx.textBaseline = 'middle';
  for (const piece of windowPieces(map, H)) {
    if (piece.cells * cell * cell < 500) continue;
    const px = x + (piece.col + 0.5) * cell, py = y + (piece.row + 0.5) * cell;
    ctx.lineWidth = 3;
    ctx.strokeStyle = 'rgba(0,0,0,0.6)';
    ctx.strokeText(String(piece.window), px, py);
    ctx.fillStyle = '#ffffff';
    ctx.fillText(String(piece.window), px, py);
  }
  ctx.textAlign = 'left';
  ctx.textBaseline = 'alphabetic';
  const t = shownToken();
  const w = map[t.row * H + t.col];
  strokeWindowBorders(ctx, H, (r, c) => map[r * H + c] === w ? 1 : 0, x, y, SWIN_SIZE, QUERY_COLOUR, 3);
  outlineCells(ctx, [gridCell(H, t.row, t.col)], x, y, SWIN_SIZE, QUERY_COLOUR);
}

// Row `token` of window `window` of the block's softmax, over the window's T keys.
function windowAttentionRow(block, window, token, head) {
  if (!block.probs) return null;
  const probs = decodeBlob(block.probs);
  const [, heads, T] = probs.shape;
  const out = new Float32Array(T);
  const hs = head === 'mean' ? [...Array(heads).keys()] : [head];
  for (const h of hs) {
    const base = ((window * heads + h) * T + token) * T;
    for (let k = 0; k < T; k++) out[k] += probs.data[base + k] / hs.length;
  }
  return out;
}

function showTokenAttention() {
  const stage = swinStageData(), block = swinBlock(), H = stage.grid, M = stage.window;
  const canvas = $('swin-attention');
  const ctx = prepareCanvas(canvas, SWIN_SIZE + 2 * SWIN_PAD, SWIN_TOP + SWIN_SIZE + SWIN_PAD + 16);
  const t = shownToken();
  const at = windowOfCell(H, M, block.shift, t.row, t.col);
  drawTitle(ctx, `attention of cell (${t.row}, ${t.col}), ${swin.head === 'mean' ? 'mean of heads' : 'head ' + swin.head}`,
            SWIN_PAD, 4);
  drawSubtitle(ctx, `block ${block.block}: window ${at.window}, token ${at.token}` +
               (block.shift ? ` (rolled position ${at.rs}, ${at.cs})` : ''), SWIN_PAD, 26);
  const x = SWIN_PAD, y = SWIN_TOP, cell = SWIN_SIZE / H;
  drawInput(ctx, x, y, SWIN_SIZE);
  const row = windowAttentionRow(block, at.window, at.token, swin.head);
  // Outside the window: no attention at all.
  const weight = new Float32Array(H * H).fill(-1);
  if (row) {
    for (let k = 0; k < row.length; k++) {
      const {row: r, col: c} = cellOfWindowToken(H, M, block.shift, at.window, k);
      weight[r * H + c] = row[k];
    }
  }
  const most = row ? Math.max(...row) : 1;
  for (let i = 0; row && i < H * H; i++) {
    const dark = weight[i] < 0 ? 0.92 : 0.88 * (1 - weight[i] / most);
    ctx.fillStyle = `rgba(0,0,0,${dark.toFixed(3)})`;
    ctx.fillRect(x + (i % H) * cell, y + Math.floor(i / H) * cell, cell + 0.5, cell + 0.5);
  }
  const mine = windowMap(stage, block.shift);
  strokeWindowBorders(ctx, H, (r, c) => (mine[r * H + c] === at.window ? 1 : 0), x, y, SWIN_SIZE, QUERY_COLOUR, 3);
  outlineCells(ctx, [gridCell(H, t.row, t.col)], x, y, SWIN_SIZE, KEY_COLOUR);
  drawSubtitle(ctx, row ? `bright = more attention (most: ${formatValue(most)}); black = outside the window`
                        : 'This block\'s attention is not in the page.', x, y + SWIN_SIZE + 5, 'top');
}

// ---------------------------------------------------------------- inside one window (T × T maps)

function ttAxes(ctx, T, x, y, size, title, subtitle) {
  drawTitle(ctx, title, 8, 4);
  ctx.fillStyle = MUTED;
  ctx.font = FONT_SMALL;
  if (subtitle) drawSubtitle(ctx, subtitle, 8, 26);
  ctx.fillStyle = MUTED;
  ctx.font = FONT_SMALL;
  ctx.textAlign = 'center';
  ctx.fillText(`key token (0–${T - 1}) →`, x + size / 2, y - 5);
  drawVerticalText(ctx, `query token (0–${T - 1}) →`, x - 10, y + size / 2);
  ctx.textAlign = 'left';
}

function markQueryRow(ctx, T, token, x, y, size) {
  const ch = size / T;
  outlineRect(ctx, x, y + token * ch, size, ch, QUERY_COLOUR, 2);
}

// The token's window in the shifted block: the window whose mask applies.
function tokenInShiftedBlock(stage) {
  const t = shownToken();
  return windowOfCell(stage.grid, stage.window, stage.shift, t.row, t.col);
}

function drawWindowMask() {
  const stage = swinStageData(), T = stage.window ** 2;
  const canvas = $('swin-mask');
  if (!stage.mask) {
    drawMessage(canvas, TT_LEFT + TT_SIZE + 16, TT_TOP + TT_SIZE + 44,
                [`Stage ${stage.stage} has no mask:`, stage.shift ? 'it is not in the page.' : 'no block of it shifts.']);
    setText('swin-mask-caption', 'The mask keeps a shifted window\'s tokens that came from different image regions apart.');
    return;
  }
  const mask = decodeBlob(stage.mask);
  const at = tokenInShiftedBlock(stage);
  const ctx = prepareCanvas(canvas, TT_LEFT + TT_SIZE + 16, TT_TOP + TT_SIZE + 44);
  ttAxes(ctx, T, TT_LEFT, TT_TOP, TT_SIZE, `mask of window ${at.window}`, `shifted block, ${T}×${T}`);
  const base = at.window * T * T;
  const open = [236, 244, 238], masked = [72, 79, 88];
  drawCells(ctx, T, T, (r, c) => (mask.data[base + r * T + c] < -0.5 ? masked : open), TT_LEFT, TT_TOP, TT_SIZE, TT_SIZE);
  markQueryRow(ctx, T, at.token, TT_LEFT, TT_TOP, TT_SIZE);
  const ly = TT_TOP + TT_SIZE + 10;
  ctx.fillStyle = 'rgb(236,244,238)';
  ctx.fillRect(TT_LEFT, ly, 12, 12);
  ctx.strokeStyle = '#8c959f';
  ctx.strokeRect(TT_LEFT + 0.5, ly + 0.5, 11, 11);
  ctx.fillStyle = 'rgb(72,79,88)';
  ctx.fillRect(TT_LEFT + 100, ly, 12, 12);
  ctx.fillStyle = INK;
  ctx.font = FONT_SMALL;
  ctx.textBaseline = 'top';
  ctx.fillText('0: may attend', TT_LEFT + 16, ly);
  const lo = stage.mask.lo ? finiteRange(decodeBlob(stage.mask.lo).data)[0] : -100;
  ctx.fillText(`${formatValue(lo)}: masked`, TT_LEFT + 116, ly);
  ctx.textBaseline = 'alphabetic';
  canvas.window = at.window;
  setText('swin-mask-caption', `Window ${at.window} of the shifted block: the query row of the chosen token is outlined. ` +
          'Dark keys came from another region of the image (the shift wrapped them around); adding the mask ' +
          'before the softmax gives them no attention.');
}

function drawPositionIndex() {
  const stage = swinStageData(), T = stage.window ** 2, M = stage.window;
  const index = decodeBlob(stage.index);
  const canvas = $('swin-index');
  const ctx = prepareCanvas(canvas, TT_LEFT + TT_SIZE + 16, TT_TOP + TT_SIZE + 44);
  ttAxes(ctx, T, TT_LEFT, TT_TOP, TT_SIZE, 'relative position index', `${T}×${T}, values 0–${(2 * M - 1) ** 2 - 1}`);
  const scale = colourScale(0, (2 * M - 1) ** 2 - 1);
  drawValueCells(ctx, T, T, (r, c) => index.data[r * T + c], scale, TT_LEFT, TT_TOP, TT_SIZE, TT_SIZE);
  markQueryRow(ctx, T, currentWindowToken().token, TT_LEFT, TT_TOP, TT_SIZE);
  drawLegend(ctx, scale, TT_LEFT, TT_TOP + TT_SIZE + 8, TT_SIZE, '');
  setText('swin-index-caption', `Row = query token, column = key token of a ${M}×${M} window; the entry numbers ` +
          `their offset (dy, dx) as (dy + ${M - 1})·${2 * M - 1} + (dx + ${M - 1}). Equal offsets share a bias.`);
}

// The chosen token's window and position in the block the view shows.
function currentWindowToken() {
  const stage = swinStageData(), t = shownToken();
  return windowOfCell(stage.grid, stage.window, swinBlock().shift, t.row, t.col);
}

const BIAS_GAP = 10, BIAS_LABEL = 14;

function biasLayout(heads) {
  const columns = Math.min(heads, heads <= 4 ? heads : heads <= 12 ? 4 : 8);
  const size = heads <= 2 ? 120 : heads <= 8 ? 96 : 72;
  return {columns, rows: Math.ceil(heads / columns), top: 34, size};
}

function drawHeadBiases() {
  const stage = swinStageData(), block = swinBlock(), T = stage.window ** 2;
  const canvas = $('swin-bias');
  const table = decodeBlob(block.bias_table), index = decodeBlob(stage.index);
  const heads = table.shape[1];
  const {columns, rows, top, size: BIAS_SIZE} = biasLayout(heads);
  const width = Math.max(280, columns * (BIAS_SIZE + BIAS_GAP) + BIAS_GAP);
  const height = top + rows * (BIAS_SIZE + BIAS_LABEL + BIAS_GAP) + 34;
  const ctx = prepareCanvas(canvas, width, height);
  drawTitle(ctx, `learned bias of block ${block.block}, per head`, BIAS_GAP, 4);
  drawSubtitle(ctx, `${T}×${T} each: bias_table[index[query, key], head]`, BIAS_GAP, 26);
  const scale = colourScale(...finiteRange(table.data));
  for (let h = 0; h < heads; h++) {
    const x = BIAS_GAP + (h % columns) * (BIAS_SIZE + BIAS_GAP);
    const y = top + Math.floor(h / columns) * (BIAS_SIZE + BIAS_LABEL + BIAS_GAP);
    ctx.fillStyle = h === swin.head ? QUERY_COLOUR : INK;
    ctx.font = h === swin.head ? FONT_BOLD : FONT_SMALL;
    ctx.textBaseline = 'top';
    ctx.fillText(`head ${h}`, x, y);
    ctx.textBaseline = 'alphabetic';
    drawValueCells(ctx, T, T, (r, c) => table.data[index.data[r * T + c] * heads + h], scale,
                   x, y + BIAS_LABEL, BIAS_SIZE, BIAS_SIZE);
  }
  drawLegend(ctx, scale, BIAS_GAP, height - 30, Math.min(width - 2 * BIAS_GAP, 240), '');
  setText('swin-bias-caption', `Each head adds its own bias by relative position before the softmax ` +
          `(${block.step.replace(/softmax$/, 'relative_position_bias')}); the same table serves every window.`);
}

// ---------------------------------------------------------------- the grid halving

function drawGridHalving() {
  const stages = DATA.attention.stages;
  const canvas = $('swin-merge');
  const side = 120, gap = 170, top = 32;
  const width = stages.length * side + (stages.length - 1) * gap + 60;
  const ctx = prepareCanvas(canvas, Math.max(width, 400), top + side + 52);
  drawTitle(ctx, 'the token grid of each stage, drawn over the input', 10, 4);
  stages.forEach((stage, s) => {
    const x = 10 + s * (side + gap), y = top, H = stage.grid, cell = side / H;
    drawInput(ctx, x, y, side);
    ctx.fillStyle = 'rgba(255,255,255,0.35)';
    ctx.fillRect(x, y, side, side);
    if (cell >= 2) drawGridLines(ctx, H, x, y, side, 'rgba(31,35,40,0.45)', 0.5);
    strokeWindowBorders(ctx, H, (r, c) => windowOfCell(H, stage.window, 0, r, c).window, x, y, side,
                        s === swin.stage ? QUERY_COLOUR : '#0969da', 2);
    ctx.fillStyle = INK;
    ctx.font = FONT_BOLD;
    ctx.textBaseline = 'top';
    ctx.fillText(`stage ${stage.stage}: ${H}×${H}`, x, y + side + 6);
    ctx.font = FONT_SMALL;
    ctx.fillStyle = MUTED;
    const channels = DATA.model.config.stages ? DATA.model.config.stages[s].channels : null;
    ctx.fillText(`${channels ? 'C = ' + channels + ', ' : ''}${windowCount(stage)} of ${stage.window}×${stage.window}`,
                 x, y + side + 22);
    if (s > 0 && stage.merge) {
      const ax = x - gap + 14, bx = x - 14, ay = y + side / 2;
      ctx.strokeStyle = INK;
      ctx.lineWidth = 1.5;
      ctx.beginPath();
      ctx.moveTo(ax, ay); ctx.lineTo(bx, ay);
      ctx.moveTo(bx - 7, ay - 5); ctx.lineTo(bx, ay); ctx.lineTo(bx - 7, ay + 5);
      ctx.stroke();
      ctx.fillStyle = INK;
      ctx.textAlign = 'center';
      ctx.textBaseline = 'bottom';
      ctx.fillText('patch merging', (ax + bx) / 2, ay - 20);
      ctx.fillText(`[${stage.merge.from.join(', ')}]`, (ax + bx) / 2, ay - 6);
      ctx.textBaseline = 'top';
      ctx.fillText(`→ [${stage.merge.to.join(', ')}]`, (ax + bx) / 2, ay + 6);
      ctx.fillStyle = MUTED;
      ctx.fillText('2×2 neighbours → one', (ax + bx) / 2, ay + 22);
      ctx.textAlign = 'left';
    }
    ctx.textBaseline = 'alphabetic';
  });
  setText('swin-merge-caption', 'Each patch merging concatenates 2×2 neighbouring tokens (4C channels) and reduces them to 2C: ' +
          'the grid halves, the windows keep their size in tokens, so each covers four times the image. ' +
          'Window borders in blue, the chosen stage in orange.');
}

// ---------------------------------------------------------------- wiring

function showWindows() {
  const stage = swinStageData(), block = swinBlock();
  const toggle = $('swin-shift-toggle');
  toggle.disabled = !canShift(stage);
  toggle.setAttribute('aria-pressed', String(swin.shifted));
  toggle.textContent = `Shifted windows: ${swin.shifted ? 'on' : 'off'}`;
  toggle.classList.toggle('on', swin.shifted);
  showNote('swin-note', (canShift(stage) ? '' : `Stage ${stage.stage}: the ${stage.grid}×${stage.grid} grid is ` +
    (stage.grid === stage.window ? 'a single window, so no block shifts it and there is no mask. ' : 'never shifted. ')) +
    untrainedNote());
  const t = shownToken(), at = currentWindowToken();
  setText('swin-token-label', `query: cell (${t.row}, ${t.col}) = window ${at.window}, token ${at.token}` +
          (swin.preview ? ' (pointing; click to keep)' : ''));
  drawWindowGrid();
  showTokenAttention();
  drawWindowMask();
  drawPositionIndex();
  drawHeadBiases();
  drawGridHalving();
  setText('swin-windows-caption', block.shift
    ? `Block ${block.block} rolls the grid by −${block.shift} in both directions, then cuts ${stage.window}×${stage.window} windows. ` +
      'Mapped back to the image, the windows on the edges wrap around: the same colour and number in two or four ' +
      'corners is one window. Point at a token to see its window.'
    : `Block ${block.block} cuts the grid into ${stage.window}×${stage.window} windows, numbered row by row. ` +
      'Point at a token to see its window; the toggle shows the next block\'s shifted windows.');
  setText('swin-attention-caption', `What the chosen token takes from the ${stage.window ** 2} tokens of its window ` +
          `(softmax of ${block.step}), drawn where those tokens sit in the image; nothing outside the window.`);
}

function swinCellUnderPointer(event, canvas) {
  const H = swinStageData().grid;
  const cell = cellAt(canvas, event, {x: SWIN_PAD, y: SWIN_TOP, w: SWIN_SIZE, h: SWIN_SIZE}, H, H);
  return cell ? {row: cell.row, col: cell.col} : null;
}

function makeTokenPicker(canvas) {
  canvas.addEventListener('mousemove', event => {
    const t = swinCellUnderPointer(event, canvas);
    if (!t || (swin.preview && swin.preview.row === t.row && swin.preview.col === t.col)) return;
    swin.preview = t;
    showWindows();
  });
  canvas.addEventListener('mouseleave', () => {
    if (!swin.preview) return;
    swin.preview = null;
    showWindows();
  });
  canvas.addEventListener('click', event => {
    const t = swinCellUnderPointer(event, canvas);
    if (!t) return;
    swin.token = t;
    swin.preview = null;
    showWindows();
  });
}

// Reading a T × T map: which query, which key, and the value.
function readWindowMap(event) {
  const canvas = event.currentTarget, stage = swinStageData(), T = stage.window ** 2, M = stage.window;
  const cell = cellAt(canvas, event, {x: TT_LEFT, y: TT_TOP, w: TT_SIZE, h: TT_SIZE}, T, T);
  if (!cell) return;
  const q = cell.row, k = cell.col;
  const dy = Math.floor(q / M) - Math.floor(k / M), dx = (q % M) - (k % M);
  let what;
  if (canvas.id === 'swin-mask') {
    const mask = decodeBlob(stage.mask);
    what = `mask = ${formatValue(mask.data[canvas.window * T * T + q * T + k])}`;
  } else {
    what = `index = ${decodeBlob(stage.index).data[q * T + k]}`;
  }
  setText('swin-readout', `query token ${q} (${Math.floor(q / M)}, ${q % M}), key token ${k} (${Math.floor(k / M)}, ${k % M}): ` +
          `offset (dy, dx) = (${dy}, ${dx}), ${what}`);
}

function chooseSwinStage(s) {
  swin.stage = s;
  const stage = swinStageData();
  if (!canShift(stage)) swin.shifted = false;
  // The last cell: in the shifted blocks its window wraps around all four corners.
  swin.token = {row: stage.grid - 1, col: stage.grid - 1};
  swin.preview = null;
  if (swin.head !== 'mean' && swin.head >= stage.heads) swin.head = 'mean';
  fillSelect($('swin-head'), [['mean', 'mean of heads'], ...[...Array(stage.heads).keys()].map(h => [h, `head ${h}`])],
             swin.head);
  showWindows();
}

function setUpSwinWindows() {
  const stages = DATA.attention.stages;
  fillSelect($('swin-stage'), stages.map(s => [s.stage, `${s.stage} (${s.grid}×${s.grid} grid, window ${s.window})`]), 0);
  $('swin-stage').addEventListener('change', e => chooseSwinStage(Number(e.target.value)));
  $('swin-head').addEventListener('change', e => {
    swin.head = e.target.value === 'mean' ? 'mean' : Number(e.target.value);
    showWindows();
  });
  $('swin-shift-toggle').addEventListener('click', () => {
    if (!canShift(swinStageData())) return;
    swin.shifted = !swin.shifted;
    showWindows();
  });
  makeTokenPicker($('swin-windows'));
  makeTokenPicker($('swin-attention'));
  $('swin-mask').addEventListener('mousemove', readWindowMap);
  $('swin-index').addEventListener('mousemove', readWindowMap);
  chooseSwinStage(0);
}
