// main.js: the page, put together once the data is parsed.

function showOnly(selector, shown) {
  for (const section of document.querySelectorAll(selector)) section.hidden = !shown;
}

function buildNav() {
  const nav = $('nav');
  for (const section of document.querySelectorAll('main > section')) {
    if (section.hidden) continue;
    nav.append(el('a', {href: '#' + section.id}, section.dataset.title || section.id));
  }
}

function showHeader() {
  const family = DATA.family;
  const name = DATA.kind === 'cost'
    ? `cost of ${DATA.cost.models.map(m => m.model).join(' and ')}`
    : `${DATA.model.name}` + (family ? ` · ${family.display}, ${family.reach} attention` : '');
  setText('model-name', name);
  document.title = `vitrace report: ${DATA.kind === 'cost' ? 'cost' : DATA.model.name}`;
  $('footer').textContent = `Written by vitrace ${DATA.vitrace || ''} (${DATA.format}). ` +
    (DATA.command ? `Command: ${DATA.command}` : '');
}

function start() {
  const run = DATA.kind !== 'cost';
  const kind = run && DATA.attention ? DATA.attention.kind : null;
  showOnly('.run-only', run);
  showOnly('.vit-only', kind === 'global');
  showOnly('.swin-only', kind === 'windowed');
  showHeader();
  if (run) {
    showRunAtAGlance();
    setUpStepView();
    buildStepList();
    if (kind === 'global') setUpVitAttention();
    if (kind === 'windowed') setUpSwinWindows();
    showPictures();
  }
  showCost();
  addPngButtons();
  buildNav();
  window.vitraceReady = true;
}

start();
