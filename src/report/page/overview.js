// overview.js: the run at a glance: the input as the model saw it, the
// prediction, the totals and the config.

function drawInputPicture() {
  const canvas = $('input-picture');
  const S = IMAGE_SIZE;
  // Enlarged by a whole factor, so every input pixel is a crisp square.
  const shown = S && S <= 256 ? Math.floor(256 / S) * S : 256;
  const ctx = prepareCanvas(canvas, shown, shown);
  drawInput(ctx, 0, 0, shown);
  const resize = DATA.input.preprocessing && DATA.input.preprocessing.resize;
  const how = resize && resize.method === 'centre_crop_resize'
    ? `the centred ${resize.crop.side}×${resize.crop.side} square, resized` : 'as read';
  setText('input-caption', `The input as the model saw it: ${S}×${S} pixels (${how}), drawn ${shown}×${shown}.`);
}

function showPrediction() {
  const box = $('prediction');
  const top5 = (DATA.output && DATA.output.top5) || [];
  if (!top5.length) {
    const features = DATA.output && DATA.output.features;
    const count = Array.isArray(features) ? features.length : features;
    box.append(el('p', {class: 'muted'},
      `This model has no classifier head: it ends with ${count ? count + ' ' : ''}features ` +
      '(the pooled vector a head would read), and there is no prediction.'));
    return;
  }
  const best = top5[0].score || 1;
  const list = el('ol', {class: 'top5'});
  for (const p of top5) {
    list.append(el('li', {},
      el('span', {class: 'label'}, p.label === null || p.label === undefined ? `class ${p.index}` : p.label),
      el('span', {class: 'bar'}, el('span', {style: `width:${(100 * p.score / best).toFixed(1)}%`})),
      el('span', {class: 'score'}, (100 * p.score).toFixed(1) + '%')));
  }
  box.append(list);
  box.append(el('p', {class: 'muted small'}, `softmax probability over ${DATA.output.classes} classes`));
}

function definitionList(id, pairs) {
  $(id).replaceChildren(...pairs.flatMap(([term, value]) => [el('dt', {}, term), el('dd', {}, value)]));
}

function showTotals() {
  const t = DATA.totals;
  definitionList('totals', [
    ['multiply-adds', humanMacs(t.macs)],
    ['parameters', humanCount(t.parameters)],
    ['forward pass', humanMs(t.forward_ms)],
    ['steps', String(t.steps)],
  ]);
  const input = DATA.input, pre = input.preprocessing || {};
  const original = input.original_size ? `${input.original_size.width}×${input.original_size.height}` : '?';
  definitionList('input-facts', [
    ['file', `${input.path} (${input.format}, ${original})`],
    ['mean', (pre.mean || []).map(v => v.toFixed(3)).join(', ') + (pre.mean_source ? ` — ${pre.mean_source}` : '')],
    ['std', (pre.std || []).map(v => v.toFixed(3)).join(', ') + (pre.std_source ? ` — ${pre.std_source}` : '')],
    ['weights', DATA.model.trained ? (DATA.model.weights || 'trained') : `random (seed ${DATA.model.seed})`],
  ]);
}

function configValue(value) {
  if (Array.isArray(value)) return value.join(', ');
  if (typeof value === 'number' && !Number.isInteger(value)) return formatValue(value);
  return String(value);
}

function showConfig() {
  const box = $('config');
  const config = DATA.model.config || {};
  for (const [key, value] of Object.entries(config)) {
    if (Array.isArray(value) && value.length && typeof value[0] === 'object') {
      // Swin's stages: one small table across the box.
      const keys = Object.keys(value[0]);
      box.append(el('div', {class: 'config-table'}, el('span', {class: 'key'}, key),
        el('table', {class: 'stages'},
          el('tr', {}, el('th', {}, 'stage'), ...keys.map(k => el('th', {}, k))),
          ...value.map((row, i) => el('tr', {}, el('td', {}, String(i)), ...keys.map(k => el('td', {}, configValue(row[k]))))))));
    } else {
      box.append(el('div', {class: 'config-item'}, el('span', {class: 'key'}, key), el('span', {class: 'value'}, configValue(value))));
    }
  }
}

function showRunAtAGlance() {
  drawInputPicture();
  showPrediction();
  showTotals();
  showConfig();
  setText('command-line', DATA.command || '');
}
