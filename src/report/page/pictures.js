// pictures.js: the attention pictures as `vitrace attention` writes them.
// vitrace draws them (src/pipeline/attention_pictures.cpp) and the page shows
// the PNG files it made, each under its file name with its one-line caption.

function showPictures() {
  const drawn = DATA.pictures || {files: [], notes: []};
  showNote('pictures-note', drawn.notes.join(' '));
  const grid = $('pictures-grid');
  for (const p of drawn.files) {
    const img = el('img', {src: 'data:image/png;base64,' + p.png, width: p.width, height: p.height,
                           alt: p.caption, class: 'png-picture'});
    const save = el('a', {href: img.src, download: p.file, class: 'png', title: 'Save this PNG file'}, 'PNG');
    grid.append(el('figure', {class: 'pic', style: `width: ${p.width}px`}, img,
                   el('figcaption', {}, save, el('code', {}, p.file), el('span', {class: 'cap-text'}, p.caption))));
  }
}
