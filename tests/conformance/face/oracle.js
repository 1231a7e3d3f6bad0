#!/usr/bin/env node
// oracle.js — the reference for cnndemo's `face` model: the original library, npm
// @vladmandic/face-api 1.7.15 (TinyFaceDetector), run on the pure-JavaScript tfjs `cpu` backend.
//
// usage: node oracle.js [--prefix DIR] [--model-dir DIR] [--input-size N] [--threshold T]...
//                       [--dump DIR] RGB_FILE WIDTH HEIGHT [RGB_FILE WIDTH HEIGHT]...
//
//   RGB_FILE      decoded pixels: WIDTH*HEIGHT*3 bytes, uint8, row-major HWC, RGB order
//   --prefix      folder whose node_modules holds the packages of package-lock.json (default: the
//                 folder of this script); test_face_oracle.py installs them with `npm ci` into
//                 .cache/face-oracle/
//   --model-dir   folder with tiny_face_detector_model{.bin,-weights_manifest.json} (default: the
//                 installed face-api package's own model/ folder)
//   --threshold   scoreThreshold of TinyFaceDetectorOptions; repeatable (default 0.5)
//   --dump DIR    also write, per image I (0-based), DIR/I_batch.npy = the library's network input
//                 before mean subtraction and /255, i.e. padded + resized pixels, (1,N,N,3) float32,
//                 and DIR/I_head.npy = the raw head output (1,N/32,N/32,25) float32
//
// For each image prints one JSON line to stdout:
//   {"file", "width", "height", "backend", "results": {"<T>": [{"x","y","width","height",
//    "score","relative":[l,t,r,b]}, ...]}, "ms": {...}}
// Boxes are exactly what detectAllFaces() returns (image pixels, NOT clipped, not rounded), in the
// library's order (descending score). Exit status is non-zero on any error.
//
// Which build: face-api's dist/face-api.esm-nobundle.js cannot be loaded by plain Node (it is
// meant for bundlers: its tfjs ESM imports omit the .js extensions), and dist/face-api.node.js
// needs the native @tensorflow/tfjs-node. dist/face-api.node-wasm.js is the library's other
// no-bundle Node build (tfjs is an external `require("@tensorflow/tfjs")`, plus a require of
// @tensorflow/tfjs-backend-wasm, which is loaded but not used): the same sources, and we select
// tfjs' pure-JS `cpu` backend with tf.setBackend('cpu') and check it is active.
'use strict';

const fs = require('fs');
const path = require('path');
const { createRequire } = require('module');

function usage(msg) {
  if (msg) process.stderr.write(`oracle.js: ${msg}\n`);
  process.stderr.write('usage: node oracle.js [--prefix DIR] [--model-dir DIR] [--input-size N] '
    + '[--threshold T]... [--dump DIR] RGB_FILE WIDTH HEIGHT [...]\n');
  process.exit(2);
}

function parseArgs(argv) {
  const o = { prefix: __dirname, modelDir: null, inputSize: 416, thresholds: [], dump: null, images: [] };
  const pos = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const val = () => { if (i + 1 >= argv.length) usage(`${a} needs a value`); return argv[++i]; };
    if (a === '--prefix') o.prefix = val();
    else if (a === '--model-dir') o.modelDir = val();
    else if (a === '--input-size') o.inputSize = Number(val());
    else if (a === '--threshold') o.thresholds.push(Number(val()));
    else if (a === '--dump') o.dump = val();
    else if (a === '-h' || a === '--help') usage();
    else if (a.startsWith('--')) usage(`unknown option ${a}`);
    else pos.push(a);
  }
  if (pos.length === 0 || pos.length % 3 !== 0) usage('expected RGB_FILE WIDTH HEIGHT triples');
  for (let i = 0; i < pos.length; i += 3) {
    const w = Number(pos[i + 1]);
    const h = Number(pos[i + 2]);
    if (!Number.isInteger(w) || !Number.isInteger(h) || w <= 0 || h <= 0) usage(`bad size ${pos[i + 1]}x${pos[i + 2]}`);
    o.images.push({ file: pos[i], width: w, height: h });
  }
  if (o.thresholds.length === 0) o.thresholds.push(0.5);
  for (const t of o.thresholds) if (!(t > 0 && t < 1)) usage(`threshold ${t} outside (0,1)`);
  if (!Number.isInteger(o.inputSize) || o.inputSize <= 0 || o.inputSize % 32) usage('--input-size must be a multiple of 32');
  return o;
}

// Minimal .npy (format 1.0) writer for a float32 tensor.
function writeNpy(file, shape, f32) {
  let header = `{'descr': '<f4', 'fortran_order': False, 'shape': (${shape.join(', ')}${shape.length === 1 ? ',' : ''}), }`;
  const total = 10 + header.length + 1;
  header += ' '.repeat((64 - (total % 64)) % 64) + '\n';
  const pre = Buffer.alloc(10);
  pre.write('\x93NUMPY', 0, 'latin1');
  pre[6] = 1; pre[7] = 0;
  pre.writeUInt16LE(header.length, 8);
  fs.writeFileSync(file, Buffer.concat([pre, Buffer.from(header, 'latin1'),
    Buffer.from(f32.buffer, f32.byteOffset, f32.byteLength)]));
}

async function main() {
  const opt = parseArgs(process.argv.slice(2));
  const req = createRequire(path.join(path.resolve(opt.prefix), 'oracle-prefix.js'));
  const t0 = Date.now();
  const faceapi = req('@vladmandic/face-api/dist/face-api.node-wasm.js');
  const { tf } = faceapi;
  if (!(await tf.setBackend('cpu'))) throw new Error('tf.setBackend("cpu") failed');
  await tf.ready();
  if (tf.getBackend() !== 'cpu') throw new Error(`backend is ${tf.getBackend()}, not cpu`);
  const pkgDir = path.dirname(req.resolve('@vladmandic/face-api/package.json'));
  const pkgVersion = JSON.parse(fs.readFileSync(path.join(pkgDir, 'package.json'), 'utf8')).version;
  const modelDir = opt.modelDir || path.join(pkgDir, 'model');
  // loadFromDisk reads <dir>/tiny_face_detector_model-weights_manifest.json and its .bin with fs
  // (the Node builds of face-api set up a Node environment; no tfjs-node needed).
  await faceapi.nets.tinyFaceDetector.loadFromDisk(modelDir);
  const tLoad = Date.now() - t0;
  process.stderr.write(`oracle.js: face-api ${pkgVersion}, tfjs ${tf.version_core}, backend ${tf.getBackend()}, `
    + `model ${modelDir}, loaded in ${tLoad} ms\n`);
  if (opt.dump) fs.mkdirSync(opt.dump, { recursive: true });

  for (let idx = 0; idx < opt.images.length; idx++) {
    const im = opt.images[idx];
    const bytes = fs.readFileSync(im.file);
    if (bytes.length !== im.width * im.height * 3) {
      throw new Error(`${im.file}: ${bytes.length} bytes, expected ${im.width}x${im.height}x3 = ${im.width * im.height * 3}`);
    }
    const tensor = tf.tensor3d(Int32Array.from(bytes), [im.height, im.width, 3], 'int32');
    const out = { file: im.file, width: im.width, height: im.height, backend: tf.getBackend(), results: {}, ms: {} };
    for (const thr of opt.thresholds) {
      const t1 = Date.now();
      const options = new faceapi.TinyFaceDetectorOptions({ inputSize: opt.inputSize, scoreThreshold: thr });
      const dets = await faceapi.detectAllFaces(tensor, options);
      out.ms[String(thr)] = Date.now() - t1;
      out.results[String(thr)] = dets.map((d) => ({
        x: d.box.x,
        y: d.box.y,
        width: d.box.width,
        height: d.box.height,
        score: d.score,
        relative: [d.relativeBox.left, d.relativeBox.top, d.relativeBox.right, d.relativeBox.bottom],
      }));
    }
    if (opt.dump) {
      // The library's own preprocessing and forward pass, split where cnndemo's dumps are.
      const net = faceapi.nets.tinyFaceDetector;
      const netInput = await faceapi.toNetInput(tensor);
      const batch = netInput.toBatchTensor(opt.inputSize, false);
      writeNpy(path.join(opt.dump, `${idx}_batch.npy`), batch.shape, batch.dataSync());
      batch.dispose();
      const head = net.forwardInput(await faceapi.toNetInput(tensor), opt.inputSize);
      writeNpy(path.join(opt.dump, `${idx}_head.npy`), head.shape, head.dataSync());
      head.dispose();
    }
    tensor.dispose();
    process.stdout.write(`${JSON.stringify(out)}\n`);
  }
}

main().catch((e) => {
  process.stderr.write(`oracle.js: ${e && e.stack ? e.stack : e}\n`);
  process.exit(1);
});
