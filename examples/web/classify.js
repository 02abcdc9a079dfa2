// Classify a 28x28 digit in the browser with the files 'edgedigits export --target web' writes,
// using nothing but the model folder's manifest.json: which files are for the web, their
// input and output names, and the numbers that turn pixels into the input tensor.
//
//   .tflite -> LiteRT.js (@litertjs/core)      .onnx -> ONNX Runtime Web (onnxruntime-web)
//
// Serve this folder's node_modules (the runtimes' .wasm files are loaded from there) and the
// model folder from the same origin; see index.html.

import {loadLiteRt, loadAndCompile, Tensor} from '@litertjs/core';
import * as ort from 'onnxruntime-web';

const TYPED = {float32: Float32Array, int8: Int8Array, uint8: Uint8Array};

// pixels (784 values, 0-255, 0 = background) -> the input tensor's values, as the manifest says:
// x = pixel * scale + offset; for an integer tensor q = clamp(round_half_away(x / s) + zp).
export function encode(pixels, input) {
  const {scale, offset} = input.from_pixels;
  const q = input.quantize;
  const out = new TYPED[input.dtype](pixels.length);
  for (let i = 0; i < pixels.length; i++) {
    const x = Math.fround(pixels[i] * scale + offset);
    if (!q) {
      out[i] = x;
      continue;
    }
    const v = x / q.scale;
    const r = Math.sign(v) * Math.floor(Math.abs(v) + 0.5);
    out[i] = Math.min(q.max, Math.max(q.min, r + q.zero_point));
  }
  return out;
}

// The output tensor's values -> floats (probabilities or logits, as output.values says).
export function decode(values, output) {
  const d = output.dequantize;
  return Array.from(values, (v) => (d ? (v - d.zero_point) * d.scale : v));
}

export function argmax(values) {
  return values.reduce((best, v, i) => (v > values[best] ? i : best), 0);
}

function batchOne(shape) {
  return shape.map((d) => (typeof d === 'number' ? d : 1)); // a dynamic batch: one image
}

let liteRtReady = null;

// One file, loaded in the runtime the manifest's format names; classify(pixels) -> floats.
export async function load(folderUrl, artifact, runtimesUrl = '/node_modules') {
  const url = `${folderUrl}/${artifact.file}`;
  const {input, output} = artifact.interface;
  if (artifact.format === 'tflite') {
    liteRtReady ??= loadLiteRt(`${runtimesUrl}/@litertjs/core/wasm/`);
    await liteRtReady;
    const model = await loadAndCompile(url, {accelerator: 'wasm'});
    const shape = batchOne(input.shape);
    return {
      runtime: 'LiteRT.js',
      inputNames: model.getInputDetails().map((d) => d.name),
      outputNames: model.getOutputDetails().map((d) => d.name),
      async classify(pixels) {
        const tensor = new Tensor(encode(pixels, input), shape);
        const results = await model.run(tensor);
        tensor.delete();
        const values = decode(results[0].toTypedArray(), output);
        results.forEach((t) => t.delete());
        return values;
      },
    };
  }
  if (artifact.format === 'onnx') {
    ort.env.wasm.wasmPaths = `${runtimesUrl}/onnxruntime-web/dist/`;
    ort.env.wasm.numThreads = 1;
    const session = await ort.InferenceSession.create(url, {executionProviders: ['wasm']});
    const shape = batchOne(input.shape);
    return {
      runtime: 'ONNX Runtime Web',
      inputNames: session.inputNames,
      outputNames: session.outputNames,
      async classify(pixels) {
        const feeds = {[input.name]: new ort.Tensor(input.dtype, encode(pixels, input), shape)};
        const results = await session.run(feeds);
        return decode(results[output.name].data, output);
      },
    };
  }
  throw new Error(`${artifact.file}: no web runtime for format ${artifact.format}`);
}

// The files of a model folder meant for the web, from its manifest.
export async function webArtifacts(folderUrl) {
  const manifest = await (await fetch(`${folderUrl}/manifest.json`)).json();
  return manifest.artifacts.filter((a) => a.status === 'ok' && a.targets.includes('web'));
}
