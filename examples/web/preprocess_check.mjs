// Run the preprocessing contract (from_image.mjs) over a file of pictures, in Node or in headless
// Chromium, and write what it made of each: how the tests hold the JavaScript to the Python and C
// implementations, and how an app's own port can be checked against them.
//   node preprocess_check.mjs pictures.bin results.bin [--chromium /usr/bin/chromium]
// pictures.bin: per picture, little-endian uint32 width and height, then width*height gray bytes.
// results.bin: per picture, 1 byte (0 ink, 1 no ink), 1 byte (1 inverted), then 784 bytes.
import {readFile, writeFile, mkdtemp, copyFile} from 'node:fs/promises';
import {tmpdir} from 'node:os';
import {join} from 'node:path';
import {toModelImage} from '../../edgedigits/preprocess/from_image.mjs';

export function runAll(bytes, toModelImage) {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const results = [];
  for (let at = 0; at < bytes.length;) {
    const width = view.getUint32(at, true);
    const height = view.getUint32(at + 4, true);
    const gray = bytes.subarray(at + 8, at + 8 + width * height);
    at += 8 + width * height;
    const {pixels, empty, inverted} = toModelImage(gray, width, height);
    const record = new Uint8Array(786);
    record[0] = empty ? 1 : 0;
    record[1] = inverted ? 1 : 0;
    record.set(pixels, 2);
    results.push(record);
  }
  const out = new Uint8Array(786 * results.length);
  results.forEach((r, k) => out.set(r, 786 * k));
  return out;
}

async function inChromium(input, executablePath) {
  const {default: puppeteer} = await import('puppeteer-core');
  const {serve} = await import('./serve.mjs');
  const folder = await mkdtemp(join(tmpdir(), 'edgedigits-preprocess-'));
  await copyFile(input, join(folder, 'pictures.bin'));
  const server = await serve(folder);
  const browser = await puppeteer.launch({executablePath, headless: true,
                                          args: ['--no-sandbox', '--disable-gpu']});
  try {
    const page = await browser.newPage();
    await page.goto(`http://127.0.0.1:${server.address().port}/preprocess/from_image.mjs`);
    const encoded = await page.evaluate(async (runAllSource) => {
      const {toModelImage} = await import('/preprocess/from_image.mjs');
      const runAll = new Function(`return (${runAllSource})`)();
      const bytes = new Uint8Array(await (await fetch('/model/pictures.bin')).arrayBuffer());
      const out = runAll(bytes, toModelImage);
      let text = '';
      for (let i = 0; i < out.length; i += 0x8000) {
        text += String.fromCharCode(...out.subarray(i, i + 0x8000));
      }
      return btoa(text);
    }, runAll.toString());
    return {bytes: Buffer.from(encoded, 'base64'), browser: await browser.version()};
  } finally {
    await browser.close();
    server.close();
  }
}

const args = process.argv.slice(2);
const at = args.indexOf('--chromium');
if (at >= 0) {
  const {bytes, browser} = await inChromium(args[0], args[at + 1]);
  await writeFile(args[1], bytes);
  process.stdout.write(`${browser}\n`);
} else {
  await writeFile(args[1], runAll(new Uint8Array(await readFile(args[0])), toModelImage));
  process.stdout.write(`node ${process.version}\n`);
}
