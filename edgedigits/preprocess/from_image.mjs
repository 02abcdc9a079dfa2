// A real picture to the 28x28 image a digit model sees: edgedigits' preprocessing contract
// (edgedigits.from_image/2), in JavaScript with no dependencies. It gives the same bytes as
// edgedigits.preprocess.to_model_image (Python) and edgedigits_from_image (C): every step is
// integer arithmetic, and every intermediate stays under 2^53, where JavaScript numbers are exact.
// The steps and their numbers: edgedigits/contract/preprocessing.py, or a manifest's
// interface.input.from_image.
//
//   import {grayFromRGBA, toModelImage} from './from_image.mjs';
//   const gray = grayFromRGBA(ctx.getImageData(0, 0, w, h));   // a canvas or a video frame
//   const {pixels, empty} = toModelImage(gray.data, gray.width, gray.height);
//   // pixels: Uint8Array(784), 0 = background; then x = pixel * scale + offset (from_pixels)

export const CONTRACT = 'edgedigits.from_image/2';
const GRAY_WEIGHTS = [77, 150, 29];
const GRAY_SHIFT = 8;
const DARK_ON_LIGHT_BORDER_MEAN = 128;
const MIN_CONTRAST = 32;
const INK_THRESHOLD = 48;
const FIT = 20;
const WORK = 80;
const STROKE_LEVEL = 128;
const STROKE_RANGE = [7, 14];
const MAX_STROKE_STEPS = 3;
const SIDE = 28;
const CENTRE = 14;

// floor(a / b) for integers (b > 0), exact whatever the float division rounds to.
function floorDiv(a, b) {
  let q = Math.floor(a / b);
  if (q * b > a) q -= 1;
  else if ((q + 1) * b <= a) q += 1;
  return q;
}

// RGBA bytes (an ImageData, or {data, width, height}) -> {data: Uint8Array gray, width, height}.
export function grayFromRGBA({data, width, height}) {
  const gray = new Uint8Array(width * height);
  const [wr, wg, wb] = GRAY_WEIGHTS;
  const half = 1 << (GRAY_SHIFT - 1);
  for (let i = 0, j = 0; i < gray.length; i++, j += 4) {
    gray[i] = (wr * data[j] + wg * data[j + 1] + wb * data[j + 2] + half) >> GRAY_SHIFT;
  }
  return {data: gray, width, height};
}

function borderSum(gray, width, height, invert) {
  let sum = 0;
  let count = 0;
  const add = (v) => { sum += invert ? 255 - v : v; count += 1; };
  if (width <= 2 || height <= 2) {
    for (let i = 0; i < width * height; i++) add(gray[i]);
  } else {
    for (let x = 0; x < width; x++) { add(gray[x]); add(gray[(height - 1) * width + x]); }
    for (let y = 1; y < height - 1; y++) { add(gray[y * width]); add(gray[y * width + width - 1]); }
  }
  return {sum, count};
}

function areaRange(i, source, target) {
  // source pixels that overlap output i: [i*source, (i+1)*source) against [y*target, ...)
  return [floorDiv(i * source, target), floorDiv((i + 1) * source - 1, target)];
}

// The h x w box at (y0, x0) of src (row stride `stride`; each value through `lookup` when given),
// area-averaged so its longer side is `side`, then its peak restretched to 255.
function fit(src, stride, y0, x0, h, w, lookup, side) {
  const longer = Math.max(h, w);
  const oh = Math.max(1, floorDiv(side * h + (longer >> 1), longer));
  const ow = Math.max(1, floorDiv(side * w + (longer >> 1), longer));
  const block = new Uint8Array(oh * ow);
  const area = h * w;
  let blockPeak = 0;
  for (let i = 0; i < oh; i++) {
    const [ya, yb] = areaRange(i, h, oh);
    for (let j = 0; j < ow; j++) {
      const [xa, xb] = areaRange(j, w, ow);
      let acc = 0;
      for (let y = ya; y <= yb; y++) {
        const wy = Math.min((i + 1) * h, (y + 1) * oh) - Math.max(i * h, y * oh);
        let row = 0;
        const base = (y0 + y) * stride + x0;
        for (let x = xa; x <= xb; x++) {
          const wx = Math.min((j + 1) * w, (x + 1) * ow) - Math.max(j * w, x * ow);
          row += wx * (lookup ? lookup[src[base + x]] : src[base + x]);
        }
        acc += wy * row;
      }
      const v = floorDiv(acc + floorDiv(area, 2), area);
      block[i * ow + j] = v;
      if (v > blockPeak) blockPeak = v;
    }
  }
  if (blockPeak) {
    for (let k = 0; k < block.length; k++) block[k] = floorDiv(block[k] * 255 + (blockPeak >> 1), blockPeak);
  }
  return {block, width: ow, height: oh};
}

// How many 3x3 steps bring the stroke into STROKE_RANGE: > 0 grows, < 0 thins (the width is
// 2 x ink pixels / edge pixels).
function strokeSteps({block, width, height}) {
  const ink = (y, x) => y >= 0 && y < height && x >= 0 && x < width && block[y * width + x] >= STROKE_LEVEL;
  let a = 0, b = 0;
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      if (!ink(y, x)) continue;
      a += 1;
      if (!(ink(y - 1, x) && ink(y + 1, x) && ink(y, x - 1) && ink(y, x + 1))) b += 1;
    }
  }
  const [low, high] = STROKE_RANGE;
  if (b === 0) return 0;
  if (2 * a < low * b) return Math.min(MAX_STROKE_STEPS, floorDiv(low * b - 2 * a + b, 2 * b));
  if (2 * a > high * b) return -Math.min(MAX_STROKE_STEPS, floorDiv(2 * a - high * b + b, 2 * b));
  return 0;
}

// The 3x3 max (grow) or min (thin) of every pixel, 0 beyond the edge.
function neighbourhood(src, width, height, grow) {
  const out = new Uint8Array(width * height);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      let v = src[y * width + x];
      for (let dy = -1; dy <= 1; dy++) {
        for (let dx = -1; dx <= 1; dx++) {
          const yy = y + dy, xx = x + dx;
          const n = yy >= 0 && yy < height && xx >= 0 && xx < width ? src[yy * width + xx] : 0;
          v = grow ? Math.max(v, n) : Math.min(v, n);
        }
      }
      out[y * width + x] = v;
    }
  }
  return out;
}

// The WORK-px block with its stroke grown or thinned into STROKE_RANGE (padded by the steps).
function correctStroke(fitted) {
  const steps = strokeSteps(fitted);
  if (steps === 0) return fitted;
  const k = Math.abs(steps);
  const width = fitted.width + 2 * k;
  const height = fitted.height + 2 * k;
  let block = new Uint8Array(width * height);
  for (let y = 0; y < fitted.height; y++) {
    block.set(fitted.block.subarray(y * fitted.width, (y + 1) * fitted.width), (y + k) * width + k);
  }
  for (let step = 0; step < k; step++) {
    const after = neighbourhood(block, width, height, steps > 0);
    if (!after.some((v) => v > 0)) break;  // thinning never erases the digit
    block = after;
  }
  return {block, width, height};
}

function inkBox(block, width, height) {
  let y0 = height, y1 = -1, x0 = width, x1 = -1;
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      if (block[y * width + x]) {
        if (y < y0) y0 = y;
        if (y > y1) y1 = y;
        if (x < x0) x0 = x;
        if (x > x1) x1 = x;
      }
    }
  }
  return {y0, x0, h: y1 - y0 + 1, w: x1 - x0 + 1};
}

// gray: Uint8Array of width*height (row-major, any polarity) -> {pixels: Uint8Array(784),
// empty, inverted}; an empty picture (no ink) gives 784 zeros and empty: true.
export function toModelImage(gray, width, height) {
  if (!(width >= 1 && height >= 1 && gray.length >= width * height)) {
    throw new Error(`toModelImage: a ${width}x${height} picture needs ${width * height} bytes`);
  }
  const pixels = new Uint8Array(SIDE * SIDE);
  const ring = borderSum(gray, width, height, false);
  const inverted = ring.sum >= DARK_ON_LIGHT_BORDER_MEAN * ring.count;
  const background = floorDiv(borderSum(gray, width, height, inverted).sum, ring.count);
  let peak = 0;
  for (let i = 0; i < width * height; i++) {
    const p = inverted ? 255 - gray[i] : gray[i];
    if (p > peak) peak = p;
  }
  if (peak - background < MIN_CONTRAST) return {pixels, empty: true, inverted};
  // the level stretch and the ink threshold, as a table over gray values
  const span = peak - background;
  const levels = new Uint8Array(256);
  for (let g = 0; g < 256; g++) {
    const p = inverted ? 255 - g : g;
    const v = p <= background ? 0 : Math.min(255, floorDiv((p - background) * 255 + (span >> 1), span));
    levels[g] = v < INK_THRESHOLD ? 0 : v;
  }
  let y0 = height, y1 = -1, x0 = width, x1 = -1;
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      if (levels[gray[y * width + x]]) {
        if (y < y0) y0 = y;
        if (y > y1) y1 = y;
        if (x < x0) x0 = x;
        if (x > x1) x1 = x;
      }
    }
  }
  if (y1 < 0) return {pixels, empty: true, inverted};
  const fitted = fit(gray, width, y0, x0, y1 - y0 + 1, x1 - x0 + 1, levels, WORK);
  // specks too sparse to survive the average: no ink at this scale
  if (!fitted.block.some((v) => v > 0)) return {pixels, empty: true, inverted};
  const work = correctStroke(fitted);
  const box = inkBox(work.block, work.width, work.height);
  const final = fit(work.block, work.width, box.y0, box.x0, box.h, box.w, null, FIT);
  const block = final.block;
  const oh = final.height;
  const ow = final.width;
  let total = 0, sy = 0, sx = 0;
  for (let i = 0; i < oh; i++) {
    for (let j = 0; j < ow; j++) {
      const v = block[i * ow + j];
      total += v;
      sy += i * v;
      sx += j * v;
    }
  }
  let top = (SIDE - oh) >> 1;
  let left = (SIDE - ow) >> 1;
  if (total > 0) {
    top = Math.min(Math.max(floorDiv((2 * CENTRE + 1) * total - 2 * sy, 2 * total), 0), SIDE - oh);
    left = Math.min(Math.max(floorDiv((2 * CENTRE + 1) * total - 2 * sx, 2 * total), 0), SIDE - ow);
  }
  for (let i = 0; i < oh; i++) {
    for (let j = 0; j < ow; j++) pixels[(top + i) * SIDE + left + j] = block[i * ow + j];
  }
  return {pixels, empty: false, inverted};
}
