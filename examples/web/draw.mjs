// Draw digits on the example page in headless Chromium with real pointer events (the mouse,
// as puppeteer sends it: pointerdown, pointermove, pointerup) and print what the page shows.
//   node draw.mjs exports/edge_cnn_small strokes.json [--chromium /usr/bin/chromium]
// strokes.json: [{"name": ..., "strokes": [[[x, y], [x, y], ...], ...]}, ...] in canvas pixels;
// each stroke is one press, a move to each point (one event per point: a fast pen), a release.
import {readFile} from 'node:fs/promises';
import puppeteer from 'puppeteer-core';
import {serve} from './serve.mjs';

const [folder, strokesFile, ...rest] = process.argv.slice(2);
const at = rest.indexOf('--chromium');
const executablePath = at >= 0 ? rest[at + 1] : '/usr/bin/chromium';
const drawings = JSON.parse(await readFile(strokesFile, 'utf8'));
const server = await serve(folder);
const browser = await puppeteer.launch({executablePath, headless: true,
                                        args: ['--no-sandbox', '--disable-gpu']});
try {
  const page = await browser.newPage();
  const log = [];
  page.on('console', (m) => log.push(`${m.type()}: ${m.text()}`));
  page.on('pageerror', (e) => log.push(`pageerror: ${e.message}`));
  await page.goto(`http://127.0.0.1:${server.address().port}/?model=/model`);
  await page.waitForFunction('window.__edgedigits && (window.__edgedigits.ready || window.__edgedigits.error)',
                             {timeout: 120000});
  const pad = await (await page.$('#pad')).boundingBox();
  const shown = [];
  for (const drawing of drawings) {
    await page.click('#clear');
    for (const stroke of drawing.strokes) {
      await page.mouse.move(pad.x + stroke[0][0], pad.y + stroke[0][1]);
      await page.mouse.down();
      for (const [x, y] of stroke.slice(1)) await page.mouse.move(pad.x + x, pad.y + y);
      await page.evaluate('window.__edgedigits.results = null');
      await page.mouse.up();
      await page.waitForFunction('window.__edgedigits.results !== null', {timeout: 60000});
    }
    const state = await page.evaluate('window.__edgedigits');
    const cells = await page.$$eval('#out tr.row td.digit', (tds) => tds.map((t) => t.textContent));
    shown.push({name: drawing.name, results: state.results, table: cells, pixels: state.pixels});
  }
  process.stdout.write(JSON.stringify({shown, browser: await browser.version(), console: log.slice(-20)}) + '\n');
} finally {
  await browser.close();
  server.close();
}
