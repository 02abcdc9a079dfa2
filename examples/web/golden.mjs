// Replay a model folder's golden.json through every web file in headless Chromium (LiteRT.js
// for .tflite, ONNX Runtime Web for .onnx) and print the page's results as JSON.
//   node golden.mjs exports/seed004_cnn [--chromium /usr/bin/chromium]
import puppeteer from 'puppeteer-core';
import {serve} from './serve.mjs';

const args = process.argv.slice(2);
const folder = args[0];
const at = args.indexOf('--chromium');
const executablePath = at >= 0 ? args[at + 1] : '/usr/bin/chromium';
const server = await serve(folder);
const browser = await puppeteer.launch({executablePath, headless: true,
                                        args: ['--no-sandbox', '--disable-gpu']});
try {
  const page = await browser.newPage();
  const console_ = [];
  page.on('console', (m) => { console_.push(`${m.type()}: ${m.text()}`); if (process.env.EDGEDIGITS_WEB_DEBUG) process.stderr.write(`${m.type()}: ${m.text()}\n`); });
  page.on('pageerror', (e) => console_.push(`pageerror: ${e.message}`));
  await page.goto(`http://127.0.0.1:${server.address().port}/?model=/model&golden=1`);
  await page.waitForFunction('window.__edgedigits !== undefined', {timeout: 300000});
  const result = await page.evaluate('window.__edgedigits');
  result.browser = await browser.version();
  result.console = console_.slice(-20);
  process.stdout.write(JSON.stringify(result) + '\n');
} finally {
  await browser.close();
  server.close();
}
