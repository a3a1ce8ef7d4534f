#!/usr/bin/env python3
"""The HTML report in a real browser: vitrace writes the pages, headless Chromium opens them.

    test_report_browser.py VITRACE_BINARY OUT_DIR [--model NAME ...] [--page FILE.html ...]

For vit_shapes and swin_shapes (and every --model), runs
`vitrace report --model NAME --image data/images/ring.png -o OUT_DIR/NAME.html`,
plus `vitrace compare --vit vit_shapes --swin swin_shapes --html OUT_DIR/cost.html`,
opens each page from file:// and checks:

  - the page says it is ready (window.vitraceReady) and logs no error or warning;
  - it asks for nothing but itself and data: URLs;
  - every step's name and the top-1 label are on the page, one row per step;
  - clicking a step row redraws #step-heatmap within 200 ms and keeps it in sight;
  - pointing at the heat map reads a value (or, without values, the page says how to get them);
  - every step opens;
  - ViT: clicking two patches of #vit-query draws two different pictures; every block, head
    and head fusion can be chosen;
  - Swin: #swin-shift-toggle redraws #swin-windows, clicking a token redraws its attention;
    every stage and head can be chosen;
  - every picture has its PNG button.

Screenshots of every section go to OUT_DIR (NAME.png, NAME_step.png, ...).
Exit status: 0 all passed, 1 a check failed, 77 skipped (no selenium, chromium or chromedriver).
"""
import argparse
import json
import os
import shutil
import subprocess
import sys
import time

SKIP = 77
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
IMAGE = os.path.join(ROOT, 'data', 'images', 'ring.png')
WINDOW = (1400, 1000)
OPEN_STEP_MS = 200       # opening a step, the click handler
READY_TIMEOUT_S = 120    # a 20 MB page parses in a few seconds

try:
    from selenium import webdriver
    from selenium.common.exceptions import WebDriverException
    from selenium.webdriver.chrome.options import Options
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.by import By
except ImportError as e:
    print(f'SKIPPED: selenium is not installed ({e}); apt install python3-selenium')
    sys.exit(SKIP)


def find_program(*names):
    for name in names:
        path = shutil.which(name)
        if path:
            return path
    return None


class Checks:
    """Counts the checks; a failed one prints why and the run goes on."""

    def __init__(self):
        self.passed = 0
        self.failed = []

    def check(self, page, what, ok, detail=''):
        if ok:
            self.passed += 1
            print(f'  ok    {what}' + (f' ({detail})' if detail else ''))
        else:
            self.failed.append(f'{page}: {what}' + (f': {detail}' if detail else ''))
            print(f'  FAIL  {what}' + (f': {detail}' if detail else ''))
        return ok


def start_browser(chromium, chromedriver):
    options = Options()
    options.binary_location = chromium
    for arg in ('--headless=new', '--no-sandbox', '--disable-dev-shm-usage', '--disable-gpu',
                f'--window-size={WINDOW[0]},{WINDOW[1]}', '--force-device-scale-factor=1',
                '--disable-extensions', '--no-first-run', '--no-default-browser-check'):
        options.add_argument(arg)
    options.set_capability('goog:loggingPrefs', {'browser': 'ALL', 'performance': 'ALL'})
    return webdriver.Chrome(service=Service(chromedriver), options=options)


def page_data(driver):
    return driver.execute_script("return JSON.parse(document.getElementById('vitrace-data').textContent)")


def canvas_png(driver, canvas_id):
    return driver.execute_script(f"return document.getElementById('{canvas_id}').toDataURL()")


def screenshot_section(driver, out_dir, name, section_id):
    driver.execute_script(f"document.getElementById('{section_id}').scrollIntoView({{block: 'start'}})")
    time.sleep(0.2)
    path = os.path.join(out_dir, f'{name}.png')
    driver.save_screenshot(path)
    return path


def click_canvas_at(driver, canvas_id, fx, fy):
    """A real pointer click at (fx, fy) of the canvas's width and height."""
    canvas = driver.find_element(By.ID, canvas_id)
    driver.execute_script("arguments[0].scrollIntoView({block: 'center'})", canvas)
    size = canvas.size
    ActionChains(driver).move_to_element_with_offset(
        canvas, int((fx - 0.5) * size['width']), int((fy - 0.5) * size['height'])).click().perform()
    time.sleep(0.1)


def check_logs(driver, checks, name, page_url):
    problems = [e for e in driver.get_log('browser') if e.get('level') in ('SEVERE', 'WARNING')]
    checks.check(name, 'no console error or warning', not problems,
                 '; '.join(e.get('message', '')[:300] for e in problems[:5]))
    asked = []
    for entry in driver.get_log('performance'):
        message = json.loads(entry['message'])['message']
        if message.get('method') == 'Network.requestWillBeSent':
            url = message['params']['request']['url']
            if url != page_url and not url.startswith('data:'):
                asked.append(url)
    checks.check(name, 'no network request but the page and data: URLs', not asked, ', '.join(asked[:5]))


def open_step(driver, checks, name, step_name, has_values, out_dir):
    """Clicks a step row as a user would (scrolled to it) and times the handler."""
    before = canvas_png(driver, 'step-heatmap')
    result = driver.execute_async_script("""
        const [name, done] = arguments;
        const row = document.querySelector(`.step[data-step="${name}"]`);
        if (!row) { done({error: 'no row'}); return; }
        row.scrollIntoView({block: 'center'});
        const t0 = performance.now();
        row.click();
        const handler = performance.now() - t0;
        requestAnimationFrame(() => setTimeout(() => {
          const map = document.getElementById('step-heatmap').getBoundingClientRect();
          const top = document.getElementById('topbar').getBoundingClientRect().bottom;
          done({handler, frame: performance.now() - t0,
                inView: map.top >= top - 1 && map.top < innerHeight - 100,
                title: document.getElementById('step-title').textContent});
        }, 0));
    """, step_name)
    if not checks.check(name, f'a row for {step_name}', 'error' not in result, result.get('error', '')):
        return
    after = canvas_png(driver, 'step-heatmap')
    checks.check(name, f'clicking {step_name} opens it', result['title'] == step_name, result['title'])
    checks.check(name, 'clicking a step row redraws #step-heatmap', after != before)
    checks.check(name, f'opening a step takes < {OPEN_STEP_MS} ms', result['handler'] < OPEN_STEP_MS,
                 f"handler {result['handler']:.1f} ms, until the next frame {result['frame']:.1f} ms")
    checks.check(name, 'the opened step is in sight without scrolling', result['inView'])
    if has_values:
        heatmap = driver.find_element(By.ID, 'step-heatmap')
        ActionChains(driver).move_to_element_with_offset(heatmap, 0, int(-0.1 * heatmap.size['height'])).perform()
        time.sleep(0.1)
        readout = driver.find_element(By.ID, 'step-readout').text
        checks.check(name, 'pointing at the heat map reads a value', '] = ' in readout, readout[:120])
    else:
        note = driver.find_element(By.ID, 'step-note').text
        checks.check(name, 'a step without values says how to get them', f"--steps '{step_name}'" in note, note[:160])
    path = os.path.join(out_dir, f'{name}_step.png')
    driver.save_screenshot(path)
    print(f'  saved {path}')


def open_every_step(driver, checks, name):
    """Opens every step in turn; the slowest is reported (errors show in the log check)."""
    result = driver.execute_script("""
        const times = [], wrong = [];
        for (const row of document.querySelectorAll('.step[data-step]')) {
          const t0 = performance.now();
          row.click();
          times.push([performance.now() - t0, row.dataset.step]);
          if (document.getElementById('step-title').textContent !== row.dataset.step) wrong.push(row.dataset.step);
        }
        times.sort((a, b) => b[0] - a[0]);
        return {count: times.length, slowest: times[0], wrong};""")
    checks.check(name, f"every step opens ({result['count']} steps)", not result['wrong'],
                 f"slowest {result['slowest'][1]} {result['slowest'][0]:.1f} ms" if not result['wrong']
                 else 'not opened: ' + ', '.join(result['wrong'][:5]))


def exercise_controls(driver, checks, name, selects):
    """Every option of the given selects, one after the other: nothing may go wrong (see the log check)."""
    count = driver.execute_script("""
        let n = 0;
        for (const id of arguments[0]) {
          const select = document.getElementById(id);
          const first = select.value;
          for (const option of select.options) {
            select.value = option.value;
            select.dispatchEvent(new Event('change'));
            n++;
          }
          select.value = first;
          select.dispatchEvent(new Event('change'));
        }
        return n;""", selects)
    checks.check(name, f"every choice of {', '.join('#' + s for s in selects)} draws", count > 0, f'{count} choices')


def check_vit(driver, checks, name, out_dir):
    screenshot = screenshot_section(driver, out_dir, f'{name}_attention', 'attention')
    print(f'  saved {screenshot}')
    click_canvas_at(driver, 'vit-query', 0.3, 0.35)
    first = canvas_png(driver, 'vit-query')
    click_canvas_at(driver, 'vit-query', 0.75, 0.8)
    second = canvas_png(driver, 'vit-query')
    checks.check(name, 'clicking two patches of #vit-query draws two different pictures', first != second)
    label = driver.find_element(By.ID, 'vit-query-label').text
    checks.check(name, 'the chosen query is shown', 'patch' in label or 'cell' in label, label)
    exercise_controls(driver, checks, name, ['vit-layer', 'vit-head', 'vit-fusion'])
    path = os.path.join(out_dir, f'{name}_query.png')
    driver.save_screenshot(path)
    print(f'  saved {path}')


def check_swin(driver, checks, name, out_dir):
    screenshot = screenshot_section(driver, out_dir, f'{name}_windows', 'windows')
    print(f'  saved {screenshot}')
    toggle = driver.find_element(By.ID, 'swin-shift-toggle')
    before = canvas_png(driver, 'swin-windows')
    toggle.click()
    time.sleep(0.1)
    after = canvas_png(driver, 'swin-windows')
    checks.check(name, '#swin-shift-toggle redraws #swin-windows', before != after)
    checks.check(name, '#swin-shift-toggle says it is on', toggle.get_attribute('aria-pressed') == 'true')
    path = screenshot_section(driver, out_dir, f'{name}_shift', 'windows')
    print(f'  saved {path}')
    click_canvas_at(driver, 'swin-windows', 0.2, 0.3)
    first = canvas_png(driver, 'swin-attention')
    click_canvas_at(driver, 'swin-windows', 0.8, 0.85)
    second = canvas_png(driver, 'swin-attention')
    checks.check(name, 'clicking two tokens of #swin-windows draws two different attentions', first != second)
    exercise_controls(driver, checks, name, ['swin-stage', 'swin-head'])


def check_page(driver, checks, name, html, out_dir):
    print(f'{name}: {html}')
    url = 'file://' + os.path.abspath(html)
    driver.get(url)
    started = time.time()
    ready = False
    while time.time() - started < READY_TIMEOUT_S:
        if driver.execute_script('return window.vitraceReady === true'):
            ready = True
            break
        time.sleep(0.05)
    if not checks.check(name, 'window.vitraceReady', ready, f'{time.time() - started:.1f} s'):
        check_logs(driver, checks, name, url)
        return
    data = page_data(driver)
    path = os.path.join(out_dir, f'{name}.png')
    driver.save_screenshot(path)
    print(f'  saved {path}')

    text = driver.execute_script('return document.body.innerText')
    if data['kind'] == 'run':
        names = [s['name'] for s in data['steps']]
        missing = [n for n in names if n not in text]
        checks.check(name, f'all {len(names)} step names on the page', not missing, ', '.join(missing[:5]))
        rows = driver.execute_script(
            "return [...document.querySelectorAll('.step[data-step]')].map(r => r.dataset.step)")
        checks.check(name, 'one .step row per step, in order', rows == names)
        top5 = data['output'].get('top5') or []
        if top5 and top5[0].get('label'):
            checks.check(name, f"the top-1 label '{top5[0]['label']}' on the page", top5[0]['label'] in text)
        softmax = next((s for s in data['steps'] if s['name'].endswith('attn.softmax')), data['steps'][-1])
        open_step(driver, checks, name, softmax['name'], softmax['values'] is not None, out_dir)
        open_every_step(driver, checks, name)
        pictures = driver.execute_script("""
            return [...document.querySelectorAll('#pictures figure')].map(f => ({
              file: f.querySelector('code').textContent,
              loaded: f.querySelector('img').complete && f.querySelector('img').naturalWidth > 0,
              shown: f.querySelector('img').getBoundingClientRect().width > 0,
              save: !!f.querySelector('a.png[download]')}));""")
        files = [p['file'] for p in data['pictures']['files']]
        checks.check(name, f'the {len(files)} attention pictures are shown, named by their files',
                     files and [p['file'] for p in pictures] == files and all(p['loaded'] and p['shown'] for p in pictures),
                     ', '.join(p['file'] for p in pictures if not (p['loaded'] and p['shown'])))
        checks.check(name, 'every attention picture has a PNG link', all(p['save'] for p in pictures))
        path = screenshot_section(driver, out_dir, f'{name}_pictures', 'pictures')
        print(f'  saved {path}')
        kind = data['attention']['kind']
        if kind == 'global':
            check_vit(driver, checks, name, out_dir)
        elif kind == 'windowed':
            check_swin(driver, checks, name, out_dir)
    else:
        models = [m['model'] for m in data['cost']['models']]
        checks.check(name, 'the cost page names its models', all(m in text for m in models), ', '.join(models))
    path = screenshot_section(driver, out_dir, f'{name}_cost', 'cost')
    print(f'  saved {path}')
    buttons = driver.execute_script("""
        const canvases = [...document.querySelectorAll('figure.pic canvas')];
        return canvases.filter(c => !c.closest('figure').querySelector('button.png')).map(c => c.id);""")
    checks.check(name, 'every picture has a PNG button', not buttons, ', '.join(buttons))
    check_logs(driver, checks, name, url)


def write_pages(vitrace, out_dir, models):
    pages = []
    for model in models:
        html = os.path.join(out_dir, f'{model}.html')
        command = [vitrace, 'report', '--model', model, '--image', IMAGE, '-o', html]
        run = subprocess.run(command, capture_output=True, text=True)
        if run.returncode != 0:
            print(f"FAIL: {' '.join(command)} exited {run.returncode}:\n{run.stderr}")
            sys.exit(1)
        pages.append((model, html))
    html = os.path.join(out_dir, 'cost.html')
    command = [vitrace, 'compare', '--vit', 'vit_shapes', '--swin', 'swin_shapes', '--html', html]
    run = subprocess.run(command, capture_output=True, text=True)
    if run.returncode != 0:
        print(f"FAIL: {' '.join(command)} exited {run.returncode}:\n{run.stderr}")
        sys.exit(1)
    pages.append(('cost', html))
    return pages


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('vitrace', help='the vitrace binary')
    parser.add_argument('out_dir', help='where the pages and screenshots go')
    parser.add_argument('--model', action='append', default=[], help='also check the page of this model')
    parser.add_argument('--page', action='append', default=[], help='also check this page, as it is')
    args = parser.parse_args()

    chromium = find_program('chromium', 'chromium-browser', 'google-chrome')
    chromedriver = find_program('chromedriver')
    if not chromium:
        print('SKIPPED: no chromium on PATH; apt install chromium')
        return SKIP
    if not chromedriver:
        print('SKIPPED: no chromedriver on PATH; apt install chromium-driver')
        return SKIP
    os.makedirs(args.out_dir, exist_ok=True)
    pages = write_pages(args.vitrace, args.out_dir, ['vit_shapes', 'swin_shapes'] + args.model)
    pages += [(os.path.splitext(os.path.basename(p))[0], p) for p in args.page]
    try:
        driver = start_browser(chromium, chromedriver)
    except WebDriverException as e:
        print(f'SKIPPED: chromium would not start: {e.msg}')
        return SKIP
    checks = Checks()
    try:
        for name, html in pages:
            check_page(driver, checks, name, html, args.out_dir)
    finally:
        driver.quit()
    print(f'{checks.passed} checks passed, {len(checks.failed)} failed')
    for failure in checks.failed:
        print(f'FAIL: {failure}')
    return 1 if checks.failed else 0


if __name__ == '__main__':
    sys.exit(main())
