// pipeline.js: every step in order, folded by block (ViT) or by stage and
// block (Swin), with a filter by name.

const stepRows = [];      // the row of step i
const groupFolds = [];    // {details, name, rows: [...]}

function statsText(stats) {
  if (!stats) return '';
  const parts = [`min ${formatValue(stats.min)}`, `max ${formatValue(stats.max)}`,
                 `mean ${formatValue(stats.mean)}`, `std ${formatValue(stats.std)}`];
  if (stats.nonfinite) parts.push(`${stats.nonfinite} non-finite`);
  return parts.join('  ');
}

// The name, with a line-break opportunity after every dot (its text stays the name).
function breakableName(name) {
  const span = el('span', {class: 'step-name'});
  name.split('.').forEach((part, i, parts) => {
    span.append(part + (i < parts.length - 1 ? '.' : ''));
    if (i < parts.length - 1) span.append(el('wbr'));
  });
  return span;
}

function stepRow(step) {
  const row = el('div', {class: 'step', 'data-step': step.name, tabindex: '0', role: 'button',
                         title: `open ${step.name}`},
    breakableName(step.name),
    el('span', {class: 'step-shape'}, shapeText(step.shape, step.dims)),
    el('span', {class: 'step-macs num'}, step.macs ? humanCount(step.macs) : '·'),
    el('span', {class: 'step-time num'}, humanMs(step.time_ms)),
    el('span', {class: 'step-more'}, el('span', {class: 'step-op'}, step.op), el('span', {class: 'step-stats'}, statsText(step.stats))));
  row.addEventListener('click', () => openStep(step.index));
  row.addEventListener('keydown', event => {
    if (event.key === 'Enter' || event.key === ' ') { event.preventDefault(); openStep(step.index); }
  });
  return row;
}

function groupFold(name, depth) {
  const count = el('span', {class: 'group-facts'});
  const body = el('div', {class: 'group-body'});
  const details = el('details', {class: `group depth-${depth}`, open: true},
    el('summary', {}, el('span', {class: 'group-name'}, name), count), body);
  const fold = {details, body, count, name, rows: [], macs: 0};
  groupFolds.push(fold);
  return fold;
}

// Rows in step order; a new fold opens whenever a step's group path changes.
function buildStepList() {
  const list = $('step-list');
  let chain = [];   // the open folds, outermost first
  for (const step of DATA.steps) {
    const path = step.group || [];
    let keep = 0;
    while (keep < chain.length && keep < path.length && chain[keep].name === path[keep]) keep++;
    chain = chain.slice(0, keep);
    for (let depth = keep; depth < path.length; depth++) {
      const fold = groupFold(path[depth], depth);
      (depth ? chain[depth - 1].body : list).append(fold.details);
      chain.push(fold);
    }
    const row = stepRow(step);
    stepRows[step.index] = row;
    (chain.length ? chain[chain.length - 1].body : list).append(row);
    for (const fold of chain) { fold.rows.push(row); fold.macs += step.macs || 0; }
  }
  for (const fold of groupFolds) {
    fold.count.textContent = `${fold.rows.length} steps` + (fold.macs ? ` · ${humanMacs(fold.macs)}` : '');
  }
  $('step-search').addEventListener('input', event => filterSteps(event.target.value));
  $('fold-all').addEventListener('click', () => foldBlocks(false));
  $('unfold-all').addEventListener('click', () => foldBlocks(true));
  showStepCount(DATA.steps.length);
}

function showStepCount(shown) {
  const total = DATA.steps.length;
  setText('step-count', shown === total ? `${total} steps` : `${shown} of ${total} steps`);
}

// Folds (or unfolds) the blocks and stages; input, embedding and head stay as they are.
function foldBlocks(open) {
  for (const fold of groupFolds) {
    if (open || /^(blocks|layers)\./.test(fold.name)) fold.details.open = open;
  }
}

function filterSteps(query) {
  const matches = nameMatcher(query);
  let shown = 0;
  for (const step of DATA.steps) {
    const visible = matches(step.name);
    stepRows[step.index].hidden = !visible;
    if (visible) shown++;
  }
  for (const fold of groupFolds) {
    const any = fold.rows.some(row => !row.hidden);
    fold.details.hidden = !any;
    if (query.trim() && any) fold.details.open = true;
  }
  showStepCount(shown);
}

// Marks the opened step's row and unfolds the folds around it.
function markOpenedRow(index) {
  for (const row of document.querySelectorAll('.step.open')) row.classList.remove('open');
  const row = stepRows[index];
  if (!row) return;
  row.classList.add('open');
  for (let node = row.parentElement; node && node.id !== 'step-list'; node = node.parentElement) {
    if (node.tagName === 'DETAILS') node.open = true;
  }
}

// Brings the opened step's row into view inside the list's own box.
function scrollRowIntoList(index) {
  const row = stepRows[index];
  if (!row) return;
  const list = $('step-list');
  const rowBox = row.getBoundingClientRect(), listBox = list.getBoundingClientRect();
  if (rowBox.top < listBox.top + 30 || rowBox.bottom > listBox.bottom) {
    list.scrollTop += rowBox.top - listBox.top - listBox.height / 3;
  }
}
