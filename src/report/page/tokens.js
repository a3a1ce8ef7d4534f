// tokens.js: where a token sits on the input image.
//
// ViT: N tokens = the prefix tokens (cls, then distillation or registers),
// then the patches row by row on an h × w grid; n = the patches alone.
// Swin: an H × W grid, one cell = image_size / H pixels. In a shifted block
// the grid was rolled by -shift first: window position (rs, cs) holds the
// token of grid position ((rs + shift) mod H, (cs + shift) mod W).

const IMAGE_SIZE = (DATA.input && DATA.input.preprocessing && DATA.input.preprocessing.image_size) ||
                   (DATA.attention && DATA.attention.image_size) || 0;

// The names of the ViT prefix tokens, in order.
function prefixTokenNames() {
  const att = DATA.attention;
  if (!att || att.kind !== 'global') return [];
  const config = (DATA.model && DATA.model.config) || {};
  const names = [];
  if (config.class_token !== false) names.push('cls token');
  if (config.distilled) names.push('distillation token');
  for (let r = 0; r < (config.reg_tokens || 0); r++) names.push('register token ' + r);
  while (names.length < att.prefix) names.push('prefix token ' + names.length);
  return names.slice(0, att.prefix);
}

const PREFIX_NAMES = prefixTokenNames();

// A grid square in image pixels: {x, y, size} of grid cell (row, col) on a side × side grid.
function gridCell(side, row, col) {
  const size = IMAGE_SIZE / side;
  return {x: col * size, y: row * size, size, row, col, side};
}

// Token t of an axis of `length` tokens (the prefix first when there is one).
function sequenceToken(length, t, withPrefix) {
  const prefix = withPrefix ? PREFIX_NAMES.length : 0;
  if (t < prefix) return {name: PREFIX_NAMES[t]};
  const side = Math.round(Math.sqrt(length - prefix));
  if (side * side !== length - prefix) return null;
  const p = t - prefix, row = Math.floor(p / side), col = p % side;
  return {name: `patch (${row}, ${col})`, cell: gridCell(side, row, col)};
}

function swinStage(stage) {
  const att = DATA.attention;
  return att && att.kind === 'windowed' ? att.stages[stage] : null;
}

// Grid position (row, col) -> {window, token, rs, cs} in a block with this shift.
function windowOfCell(H, M, shift, row, col) {
  const rs = ((row - shift) % H + H) % H, cs = ((col - shift) % H + H) % H;
  const window = Math.floor(rs / M) * (H / M) + Math.floor(cs / M);
  return {window, token: (rs % M) * M + (cs % M), rs, cs};
}

// Window w, token t of a block with this shift -> grid position {row, col}.
function cellOfWindowToken(H, M, shift, w, t) {
  const perRow = H / M;
  const rs = Math.floor(w / perRow) * M + Math.floor(t / M);
  const cs = (w % perRow) * M + (t % M);
  return {row: (rs + shift) % H, col: (cs + shift) % H};
}

// The shift of a Swin step's block, 0 outside the shifted blocks.
function stepShift(step) {
  const stage = swinStage(step.stage);
  if (!stage || step.block < 0) return 0;
  const block = stage.blocks.find(b => b.block === step.block);
  return block ? block.shift : (step.block % 2 ? stage.shift : 0);
}

// The tokens an index of a step's values points at: one mark per token axis,
// {axis, tokens: [{name, cell}]} (no cell for a prefix token). `index` holds one
// position per axis; `spans` how many positions of each axis the index covers
// (a block of pooled values), or null for one each.
function tokensAtIndex(step, index, spans) {
  const dims = step.dims, shape = step.shape, marks = [];
  const firstOf = d => index[d], countOf = d => (spans ? spans[d] : 1);
  const positionsOf = d => Array.from({length: countOf(d)}, (_, k) => firstOf(d) + k).filter(t => t < shape[d]);
  const add = (axis, tokens) => marks.push({axis, tokens: tokens.filter(Boolean)});

  dims.forEach((name, d) => {
    if (name === 'N' || name === 'N_q' || name === 'N_k') add(d, positionsOf(d).map(t => sequenceToken(shape[d], t, true)));
    else if (name === 'n') add(d, positionsOf(d).map(t => sequenceToken(shape[d], t, false)));
  });
  const gridAxes = [['H', 'W'], ['h', 'w']];
  for (const [a, b] of gridAxes) {
    const dh = dims.indexOf(a), dw = dims.indexOf(b);
    if (dh < 0 || dw < 0) continue;
    const tokens = [];
    for (const row of positionsOf(dh)) for (const col of positionsOf(dw)) {
      tokens.push({name: `cell (${row}, ${col})`, cell: gridCell(shape[dh], row, col)});
    }
    add(dh, tokens);
  }
  const stage = swinStage(step.stage);
  const dw = dims.indexOf('windows');
  if (stage && dw >= 0) {
    const shift = stepShift(step);
    dims.forEach((name, d) => {
      if (name !== 'T' && name !== 'T_q' && name !== 'T_k') return;
      const tokens = [];
      for (const w of positionsOf(dw)) for (const t of positionsOf(d)) {
        const {row, col} = cellOfWindowToken(stage.grid, stage.window, shift, w, t);
        tokens.push({name: `window ${w} token ${t} = cell (${row}, ${col})`, cell: gridCell(stage.grid, row, col)});
      }
      add(d, tokens);
    });
  }
  return marks.filter(m => m.tokens.length);
}

// Outlines grid cells on a picture of the input drawn at (x, y) with side `size`.
function outlineCells(ctx, cells, x, y, size, colour) {
  const k = size / IMAGE_SIZE;
  for (const cell of cells) outlineRect(ctx, x + cell.x * k, y + cell.y * k, cell.size * k, cell.size * k, colour, 2);
}
