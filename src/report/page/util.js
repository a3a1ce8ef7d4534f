// util.js: what every view needs: the page's data, DOM building, blob
// decoding, number formatting, colour maps, canvas helpers and PNG export.
// All the page's scripts run inside one function (see report.html): nothing
// here is global except window.vitraceReady, set by main.js.

const DATA = JSON.parse(document.getElementById('vitrace-data').textContent);

// ---------------------------------------------------------------- DOM

function $(id) { return document.getElementById(id); }

// el('div', {class: 'x', onclick: f}, 'text', child, ...)
function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key.startsWith('on')) node.addEventListener(key.slice(2), value);
    else if (key === 'class') node.className = value;
    else if (key === 'text') node.textContent = value;
    else node.setAttribute(key, value === true ? '' : value);
  }
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : String(child));
  }
  return node;
}

function setText(id, text) { $(id).textContent = text; }

function showNote(id, text) {
  const node = $(id);
  node.hidden = !text;
  node.textContent = text || '';
}

function fillSelect(select, options, value) {
  select.replaceChildren(...options.map(([v, label]) => el('option', {value: v}, label)));
  select.value = String(value);
}

// ---------------------------------------------------------------- blobs

function base64Bytes(text) {
  const raw = atob(text);
  const bytes = new Uint8Array(raw.length);
  for (let i = 0; i < raw.length; i++) bytes[i] = raw.charCodeAt(i);
  return bytes;
}

const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

function float32s(bytes) {
  if (LITTLE_ENDIAN) return new Float32Array(bytes.buffer, bytes.byteOffset, bytes.length / 4);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.length);
  const out = new Float32Array(bytes.length / 4);
  for (let i = 0; i < out.length; i++) out[i] = view.getFloat32(4 * i, true);
  return out;
}

// IEEE half precision: every one of the 65,536 bit patterns, computed once.
let halfTable = null;
function halfToFloatTable() {
  if (halfTable) return halfTable;
  halfTable = new Float32Array(65536);
  for (let h = 0; h < 65536; h++) {
    const sign = h & 0x8000 ? -1 : 1, exponent = (h >> 10) & 0x1f, fraction = h & 0x3ff;
    let v;
    if (exponent === 0) v = fraction * Math.pow(2, -24);                  // subnormal
    else if (exponent === 31) v = fraction ? NaN : Infinity;
    else v = (1 + fraction / 1024) * Math.pow(2, exponent - 15);
    halfTable[h] = sign * v;
  }
  return halfTable;
}

function float16s(bytes) {
  const table = halfToFloatTable();
  const out = new Float32Array(bytes.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = table[bytes[2 * i] | (bytes[2 * i + 1] << 8)];
  return out;
}

// u8 blobs keep each row of the last axis in 256 levels between its own lo and hi.
function dequantizeRows(bytes, shape, lo, hi) {
  const out = new Float32Array(bytes.length);
  if (!lo || !hi) { out.set(bytes); return out; }
  const lows = decodeBlob(lo).data, highs = decodeBlob(hi).data;
  const rowLength = shape.length ? shape[shape.length - 1] : 1;
  for (let r = 0, i = 0; i < bytes.length; r++) {
    const a = lows[r], step = (highs[r] - a) / 255;
    for (const end = i + rowLength; i < end; i++) out[i] = a + bytes[i] * step;
  }
  return out;
}

const decodedBlobs = new WeakMap();

// {shape, data: Float32Array} of a blob; decoded once, when first asked for.
function decodeBlob(blob) {
  if (!blob) return null;
  let decoded = decodedBlobs.get(blob);
  if (decoded) return decoded;
  const bytes = base64Bytes(blob.data);
  let data;
  if (blob.dtype === 'f32') data = float32s(bytes);
  else if (blob.dtype === 'f16') data = float16s(bytes);
  else if (blob.dtype === 'u8') data = dequantizeRows(bytes, blob.shape, blob.lo, blob.hi);
  else throw new Error('vitrace report: unknown blob dtype ' + blob.dtype);
  decoded = {shape: blob.shape, data};
  decodedBlobs.set(blob, decoded);
  return decoded;
}

function stridesOf(shape) {
  const strides = new Array(shape.length).fill(1);
  for (let d = shape.length - 2; d >= 0; d--) strides[d] = strides[d + 1] * shape[d + 1];
  return strides;
}

function product(values) { return values.reduce((a, b) => a * b, 1); }

// ---------------------------------------------------------------- numbers

// 17563828224 -> "17.6 G"; 86567656 -> "86.6 M"; 150917 -> "150.9 k"
function humanCount(n) {
  const units = [[1e12, 'T'], [1e9, 'G'], [1e6, 'M'], [1e3, 'k']];
  for (const [size, unit] of units) {
    if (Math.abs(n) >= size) return (n / size).toFixed(Math.abs(n / size) >= 100 ? 0 : 1).replace(/\.0$/, '') + ' ' + unit;
  }
  return String(n);
}

// Axis ticks from 0: a step of 1, 2, 2.5 or 5 × 10^k, about `count` of them up to `max`.
function niceTicks(max, count) {
  const rough = (max > 0 ? max : 1) / (count || 4);
  const p = Math.pow(10, Math.floor(Math.log10(rough)));
  const step = [1, 2, 2.5, 5, 10].map(m => m * p).find(s => s >= rough);
  return {step, top: Math.ceil((max > 0 ? max : 1) / step - 1e-9) * step};
}

function humanMacs(n) { return n ? humanCount(n) + ' MACs' : '0'; }

function humanMs(ms) {
  if (ms >= 1000) return (ms / 1000).toFixed(2) + ' s';
  if (ms >= 10) return ms.toFixed(0) + ' ms';
  if (ms >= 0.1) return ms.toFixed(2) + ' ms';
  return (ms * 1000).toFixed(0) + ' µs';
}

// A value as a learner reads it: 4 significant digits, exponent when tiny or huge.
function formatValue(v) {
  if (v === null || v === undefined || Number.isNaN(v)) return 'NaN';
  if (!Number.isFinite(v)) return v > 0 ? '+inf' : '-inf';
  if (v === 0) return '0';
  const a = Math.abs(v);
  if (a >= 1e5 || a < 1e-3) return v.toExponential(2);
  return String(Number(v.toPrecision(4)));
}

// 16900 -> "16,900" (without toLocaleString, whose first call loads locale data).
function withCommas(n) { return String(n).replace(/\B(?=(\d{3})+(?!\d))/g, ','); }

// "[heads 4, N 65, N 65]"
function shapeText(shape, dims) {
  return '[' + shape.map((size, d) => (dims && dims[d] ? dims[d] + ' ' : '') + size).join(', ') + ']';
}

// Step names are matched as substrings, or as globs when they hold * or ?.
function nameMatcher(query) {
  const q = query.trim();
  if (!q) return () => true;
  if (!/[*?]/.test(q)) return name => name.includes(q);
  const pattern = q.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.');
  const re = new RegExp('^' + pattern + '$');
  return name => re.test(name);
}

// ---------------------------------------------------------------- colour

function rampTable(stops) {
  const table = new Uint8ClampedArray(256 * 3);
  for (let i = 0; i < 256; i++) {
    const t = i / 255;
    let k = 0;
    while (k < stops.length - 2 && t > stops[k + 1][0]) k++;
    const [t0, ...c0] = stops[k], [t1, ...c1] = stops[k + 1];
    const f = (t - t0) / (t1 - t0);
    for (let c = 0; c < 3; c++) table[3 * i + c] = c0[c] + f * (c1[c] - c0[c]);
  }
  return table;
}

// The colour maps are vitrace's (src/io/picture.cpp), which the PNG pictures
// use too; the page's data carries their stops [t, r, g, b].
// Sequential: dark blue through teal and green to yellow, more = brighter.
const SEQUENTIAL = rampTable(DATA.colour_maps.sequential);
// Diverging: blue below zero, near-white at zero, red above.
const DIVERGING = rampTable(DATA.colour_maps.diverging);
const NONFINITE_RGB = [255, 0, 255];

// How values become colours: diverging centred at 0 when the range has both
// signs, sequential otherwise.
function colourScale(min, max) {
  if (!(max > min)) max = min + (min === 0 ? 1 : Math.abs(min));
  if (min < 0 && max > 0) {
    const m = Math.max(-min, max);
    return {kind: 'diverging', min: -m, max: m, table: DIVERGING, lo: min, hi: max};
  }
  return {kind: 'sequential', min, max, table: SEQUENTIAL, lo: min, hi: max};
}

// Index 0..255 of value v in a scale.
function colourIndex(scale, v) {
  const t = (v - scale.min) / (scale.max - scale.min);
  return t <= 0 ? 0 : t >= 1 ? 255 : Math.round(t * 255);
}

function cssColour(table, i) { return `rgb(${table[3 * i]},${table[3 * i + 1]},${table[3 * i + 2]})`; }

// [min, max] over the finite values.
function finiteRange(data) {
  let min = Infinity, max = -Infinity;
  for (let i = 0; i < data.length; i++) {
    const v = data[i];
    if (v - v !== 0) continue;  // NaN or ±inf
    if (v < min) min = v;
    if (v > max) max = v;
  }
  return min <= max ? [min, max] : [0, 0];
}

// A distinct, light tint for window number w.
function windowTint(w, alpha) {
  const hue = (w * 137.508) % 360;
  return `hsla(${hue.toFixed(1)}, 75%, 55%, ${alpha})`;
}

// ---------------------------------------------------------------- canvas

const FONT = '12px system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif';
const FONT_SMALL = '11px system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif';
const FONT_BOLD = 'bold 12px system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif';
const INK = '#1f2328', MUTED = '#59636e', GRID = '#d8dee4';
const QUERY_COLOUR = '#ff7a00', KEY_COLOUR = '#00b3ff';

// Sizes the canvas to width × height CSS pixels, sharp on high-density
// screens, clears it white and returns its context in CSS pixels.
function prepareCanvas(canvas, width, height) {
  const ratio = window.devicePixelRatio || 1;
  canvas.width = Math.round(width * ratio);
  canvas.height = Math.round(height * ratio);
  canvas.style.width = width + 'px';
  canvas.style.height = height + 'px';
  const ctx = canvas.getContext('2d');
  ctx.setTransform(ratio, 0, 0, ratio, 0, 0);
  ctx.fillStyle = '#ffffff';
  ctx.fillRect(0, 0, width, height);
  ctx.font = FONT;
  ctx.textBaseline = 'alphabetic';
  return ctx;
}

let cellBuffer = null;

// Puts an ImageData of cols × rows on the box (x, y, w, h), each pixel a sharp cell.
function drawImageData(ctx, image, x, y, w, h) {
  if (!cellBuffer) cellBuffer = document.createElement('canvas');
  cellBuffer.width = image.width;
  cellBuffer.height = image.height;
  cellBuffer.getContext('2d').putImageData(image, 0, 0);
  ctx.imageSmoothingEnabled = false;
  ctx.drawImage(cellBuffer, x, y, w, h);
}

// Draws rows × cols cells, colourAt(r, c) -> [r, g, b], into the box (x, y, w, h).
function drawCells(ctx, rows, cols, colourAt, x, y, w, h) {
  const image = new ImageData(cols, rows);
  const px = image.data;
  for (let r = 0, i = 0; r < rows; r++) {
    for (let c = 0; c < cols; c++, i += 4) {
      const rgb = colourAt(r, c);
      px[i] = rgb[0]; px[i + 1] = rgb[1]; px[i + 2] = rgb[2]; px[i + 3] = 255;
    }
  }
  drawImageData(ctx, image, x, y, w, h);
}

// Cells coloured by a scale, read from a strided view of an array:
// the value of cell (r, c) is data[base + r * rowStride + c * colStride].
function drawStridedCells(ctx, view, scale, x, y, w, h) {
  const {rows, cols, data, base, rowStride, colStride} = view;
  const image = new ImageData(cols, rows);
  const px = image.data, table = scale.table;
  const k = 255 / (scale.max - scale.min), lo = scale.min;
  for (let r = 0, i = 0; r < rows; r++) {
    let at = base + r * rowStride;
    for (let c = 0; c < cols; c++, i += 4, at += colStride) {
      const v = data[at];
      if (v - v !== 0) {  // NaN or ±inf
        px[i] = NONFINITE_RGB[0]; px[i + 1] = NONFINITE_RGB[1]; px[i + 2] = NONFINITE_RGB[2];
      } else {
        let t = Math.round((v - lo) * k);
        t = t < 0 ? 0 : t > 255 ? 255 : t;
        px[i] = table[3 * t]; px[i + 1] = table[3 * t + 1]; px[i + 2] = table[3 * t + 2];
      }
      px[i + 3] = 255;
    }
  }
  drawImageData(ctx, image, x, y, w, h);
}

// Cells coloured by a scale: valueAt(r, c) -> number.
function drawValueCells(ctx, rows, cols, valueAt, scale, x, y, w, h) {
  const values = new Float32Array(rows * cols);
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) values[r * cols + c] = valueAt(r, c);
  drawStridedCells(ctx, {rows, cols, data: values, base: 0, rowStride: cols, colStride: 1}, scale, x, y, w, h);
}

// A horizontal colour bar with the scale's ends (and 0 when diverging).
function drawLegend(ctx, scale, x, y, w, label) {
  const h = 10;
  drawCells(ctx, 1, 256, (r, c) => [scale.table[3 * c], scale.table[3 * c + 1], scale.table[3 * c + 2]], x, y, w, h);
  ctx.strokeStyle = '#8c959f';
  ctx.lineWidth = 1;
  ctx.strokeRect(x + 0.5, y + 0.5, w - 1, h - 1);
  ctx.fillStyle = INK;
  ctx.font = FONT_SMALL;
  ctx.textBaseline = 'top';
  ctx.textAlign = 'left';
  ctx.fillText(formatValue(scale.min), x, y + h + 3);
  ctx.textAlign = 'right';
  ctx.fillText(formatValue(scale.max), x + w, y + h + 3);
  ctx.textAlign = 'center';
  if (scale.kind === 'diverging') ctx.fillText('0', x + w / 2, y + h + 3);
  if (label) ctx.fillText(label, x + w / 2, y + h + 16);
  ctx.textAlign = 'left';
  ctx.textBaseline = 'alphabetic';
}

// Text that fits maxWidth: the font shrinks down to 10 px, then the text is cut with an ellipsis.
function fitText(ctx, text, x, y, maxWidth, weight) {
  let size = 12;
  const font = px => `${weight || ''} ${px}px ${FONT.replace(/^\S+ /, '')}`.trim();
  ctx.font = font(size);
  while (maxWidth && size > 10 && ctx.measureText(text).width > maxWidth) ctx.font = font(--size);
  while (maxWidth && text.length > 4 && ctx.measureText(text).width > maxWidth) text = text.slice(0, -2) + '…';
  ctx.fillText(text, x, y);
}

// A picture's title, bold, on its first line; maxWidth keeps it inside the canvas.
// Text read bottom to top, centred on (x, y): the label of a vertical axis.
function drawVerticalText(ctx, text, x, y) {
  ctx.save();
  ctx.translate(x, y);
  ctx.rotate(-Math.PI / 2);
  ctx.textAlign = 'center';
  ctx.textBaseline = 'middle';
  ctx.fillText(text, 0, 0);
  ctx.restore();
}

// The lines between the cells of an n x n grid over the square at (x, y).
function drawGridLines(ctx, n, x, y, side, colour, width) {
  const cell = side / n;
  ctx.strokeStyle = colour;
  ctx.lineWidth = width;
  ctx.beginPath();
  for (let k = 1; k < n; k++) {
    ctx.moveTo(x + k * cell, y); ctx.lineTo(x + k * cell, y + side);
    ctx.moveTo(x, y + k * cell); ctx.lineTo(x + side, y + k * cell);
  }
  ctx.stroke();
}

function drawTitle(ctx, text, x, y, maxWidth) {
  ctx.fillStyle = INK;
  ctx.textBaseline = 'top';
  ctx.textAlign = 'left';
  fitText(ctx, text, x, y, maxWidth || ctx.canvas.width / (window.devicePixelRatio || 1) - x - 6, 'bold');
  ctx.font = FONT;
  ctx.textBaseline = 'alphabetic';
}

// A small grey line (a picture's subtitle or note) that fits the canvas.
function drawSubtitle(ctx, text, x, y, baseline) {
  ctx.fillStyle = MUTED;
  ctx.textBaseline = baseline || 'alphabetic';
  ctx.textAlign = 'left';
  const maxWidth = ctx.canvas.width / (window.devicePixelRatio || 1) - x - 6;
  ctx.font = FONT_SMALL;
  let t = text;
  while (t.length > 4 && ctx.measureText(t).width > maxWidth) t = t.slice(0, -2) + '…';
  ctx.fillText(t, x, y);
  ctx.font = FONT;
  ctx.textBaseline = 'alphabetic';
}

function drawMessage(canvas, width, height, lines) {
  const ctx = prepareCanvas(canvas, width, height);
  ctx.fillStyle = '#f6f8fa';
  ctx.fillRect(0, 0, width, height);
  ctx.fillStyle = MUTED;
  ctx.textAlign = 'center';
  lines.forEach((line, i) => fitText(ctx, line, width / 2, height / 2 + (i - (lines.length - 1) / 2) * 18, width - 16));
  ctx.textAlign = 'left';
  ctx.font = FONT;
  return ctx;
}

// The cell (row, col) of a grid drawn in box (x, y, w, h) under a mouse event, or null.
function cellAt(canvas, event, box, rows, cols) {
  const rect = canvas.getBoundingClientRect();
  const px = event.clientX - rect.left - box.x, py = event.clientY - rect.top - box.y;
  if (px < 0 || py < 0 || px >= box.w || py >= box.h) return null;
  return {row: Math.min(rows - 1, Math.floor(py / box.h * rows)), col: Math.min(cols - 1, Math.floor(px / box.w * cols))};
}

// ---------------------------------------------------------------- the input picture

let pictureCanvas = null;

// The image the model saw, S × S, as a canvas to draw from (made once).
function inputPicture() {
  if (pictureCanvas) return pictureCanvas;
  const blob = DATA.input && DATA.input.picture;
  if (!blob) return null;
  const {shape, data} = decodeBlob(blob);
  const [h, w] = shape;
  const channels = shape[2] || 1;
  const image = new ImageData(w, h);
  for (let p = 0; p < w * h; p++) {
    for (let c = 0; c < 3; c++) image.data[4 * p + c] = data[p * channels + Math.min(c, channels - 1)];
    image.data[4 * p + 3] = 255;
  }
  pictureCanvas = document.createElement('canvas');
  pictureCanvas.width = w;
  pictureCanvas.height = h;
  pictureCanvas.getContext('2d').putImageData(image, 0, 0);
  return pictureCanvas;
}

// Draws the input enlarged, pixel for pixel, into the square (x, y, size).
function drawInput(ctx, x, y, size) {
  const picture = inputPicture();
  if (!picture) {
    ctx.fillStyle = '#eaeef2';
    ctx.fillRect(x, y, size, size);
    return;
  }
  ctx.imageSmoothingEnabled = false;
  ctx.drawImage(picture, x, y, size, size);
}

function outlineRect(ctx, x, y, w, h, colour, width) {
  ctx.lineWidth = width || 2;
  ctx.strokeStyle = '#ffffff';
  ctx.strokeRect(x - 1, y - 1, w + 2, h + 2);
  ctx.strokeStyle = colour;
  ctx.strokeRect(x, y, w, h);
}

// Random weights attend almost evenly: say so beside the attention pictures.
function untrainedNote() {
  return DATA.model && DATA.model.trained === false
    ? `The weights are random (seed ${DATA.model.seed}), not trained: expect attention spread almost evenly.` : '';
}

// ---------------------------------------------------------------- PNG export

function modelLabel() {
  if (DATA.model && DATA.model.name) return DATA.model.name;
  if (DATA.cost && DATA.cost.models) return DATA.cost.models.map(m => m.model).join('-vs-');
  return 'vitrace';
}

// Saves a canvas as a PNG file, without the network: a data: URL and a download link.
function savePng(canvas) {
  const link = el('a', {href: canvas.toDataURL('image/png'), download: `${modelLabel()}-${canvas.id}.png`});
  document.body.append(link);
  link.click();
  link.remove();
}

// A "PNG" button in the caption of every picture.
function addPngButtons() {
  for (const canvas of document.querySelectorAll('figure.pic canvas')) {
    const caption = canvas.closest('figure').querySelector('figcaption');
    caption.append(el('button', {type: 'button', class: 'png', title: 'Save this picture as a PNG file',
                                 onclick: () => savePng(canvas)}, 'PNG'));
  }
}
