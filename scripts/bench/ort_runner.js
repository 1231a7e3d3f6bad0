#!/usr/bin/env node
// ort_runner.js — ONNX Runtime (npm onnxruntime-node, CPU execution provider) for
// scripts/bench-peers. One process holds one InferenceSession and answers JSON lines on stdin.
//
// usage: node ort_runner.js [--prefix DIR] [--profile PREFIX] MODEL.onnx THREADS
//   --prefix   folder whose node_modules holds onnxruntime-node (bench-peers installs the
//              package.json + package-lock.json of this folder into .cache/ort/)
//   --profile  enable ONNX Runtime's profiler (per-node times, written as PREFIX_<date>.json)
//   THREADS    intraOpNumThreads (interOpNumThreads 1, graphOptimizationLevel 'all',
//              executionMode 'sequential')
//
// Requests (one JSON object per line) and replies (one JSON line each):
//   {"op": "input", "file": F, "shape": [n, c, h, w]}  raw float32 file -> the `input` tensor
//                                                      -> {"ok": true}
//   {"op": "time", "warmup": W, "runs": R}             -> {"ms": [R wall-clock times of run()]}
//   {"op": "dump", "dir": D}                           run once, write each output as D/<name>.f32
//                                                      -> {"outputs": {name: shape}}
//   {"op": "end_profiling"}                            -> {"file": the profile's path}
//   {"op": "rss"}                                      -> {"hwm_kib": VmHWM of this process}
// The first line printed is {"ready": true, "versions": {...}}. Errors: {"error": "..."} and exit 1.
'use strict';

const fs = require('fs');
const path = require('path');
const readline = require('readline');
const { createRequire } = require('module');

function fail(msg) {
  process.stdout.write(JSON.stringify({ error: String(msg) }) + '\n');
  process.exit(1);
}

async function main() {
  const argv = process.argv.slice(2);
  let prefix = path.join(__dirname, '..', '..', '.cache', 'ort');
  let profile = null;
  const pos = [];
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--prefix') prefix = argv[++i];
    else if (argv[i] === '--profile') profile = argv[++i];
    else pos.push(argv[i]);
  }
  if (pos.length !== 2) fail('usage: node ort_runner.js --prefix DIR MODEL.onnx THREADS');
  const [modelPath, threadsArg] = pos;
  const threads = parseInt(threadsArg, 10);
  if (!(threads >= 1)) fail(`bad THREADS ${threadsArg}`);
  const req = createRequire(path.join(path.resolve(prefix), 'package.json'));
  const ort = req('onnxruntime-node');
  const session = await ort.InferenceSession.create(modelPath, {
    executionProviders: ['cpu'],
    intraOpNumThreads: threads,
    interOpNumThreads: 1,
    graphOptimizationLevel: 'all',
    executionMode: 'sequential',
    ...(profile ? { enableProfiling: true, profileFilePrefix: profile } : {}),
  });
  let feeds = null;
  process.stdout.write(JSON.stringify({ ready: true, versions: ort.env.versions, threads,
    inputs: session.inputNames, outputs: session.outputNames }) + '\n');

  const rl = readline.createInterface({ input: process.stdin, terminal: false });
  for await (const line of rl) {
    if (!line.trim()) continue;
    let r;
    try {
      r = JSON.parse(line);
    } catch (e) {
      fail(`bad request: ${line}`);
    }
    try {
      if (r.op === 'input') {
        const buf = fs.readFileSync(r.file);
        const n = r.shape.reduce((a, b) => a * b, 1);
        if (buf.length !== 4 * n) fail(`${r.file}: ${buf.length} bytes, shape needs ${4 * n}`);
        const data = new Float32Array(n);
        new Uint8Array(data.buffer).set(buf);
        feeds = { [session.inputNames[0]]: new ort.Tensor('float32', data, r.shape) };
        process.stdout.write('{"ok": true}\n');
      } else if (r.op === 'time') {
        if (!feeds) fail('time before input');
        for (let i = 0; i < r.warmup; i++) await session.run(feeds);
        const ms = [];
        for (let i = 0; i < r.runs; i++) {
          const t = process.hrtime.bigint();
          await session.run(feeds);
          ms.push(Number(process.hrtime.bigint() - t) / 1e6);
        }
        process.stdout.write(JSON.stringify({ ms }) + '\n');
      } else if (r.op === 'dump') {
        if (!feeds) fail('dump before input');
        const out = await session.run(feeds);
        fs.mkdirSync(r.dir, { recursive: true });
        const shapes = {};
        for (const [name, t] of Object.entries(out)) {
          fs.writeFileSync(path.join(r.dir, `${name}.f32`), Buffer.from(t.data.buffer, t.data.byteOffset, t.data.byteLength));
          shapes[name] = t.dims;
        }
        process.stdout.write(JSON.stringify({ outputs: shapes }) + '\n');
      } else if (r.op === 'end_profiling') {
        const file = session.endProfiling();
        process.stdout.write(JSON.stringify({ file: file || null }) + '\n');
      } else if (r.op === 'rss') {
        const m = /VmHWM:\s*(\d+)/.exec(fs.readFileSync('/proc/self/status', 'utf8'));
        process.stdout.write(JSON.stringify({ hwm_kib: m ? parseInt(m[1], 10) : null }) + '\n');
      } else {
        fail(`unknown op ${r.op}`);
      }
    } catch (e) {
      fail(e && e.stack ? e.stack : e);
    }
  }
  await session.release();
}

main().catch((e) => fail(e && e.stack ? e.stack : e));
