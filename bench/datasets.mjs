// The throughput benchmark's datasets, generated the same way on every run (seeded sizes and
// bytes), so every tool and every run moves the same data.
//
//   node bench/datasets.mjs S1|S2|S3|S4|S5 DIR
//
//   S1: 5,000 files of 1-64 KiB in 50 folders (about 160 MiB)
//   S2: 4 files of 256 MiB
//   S3: 50,000 tiny files (16-1,024 bytes) in 500 folders
//   S5: 20,000 files of 1-8 KiB in 200 folders (read through slowfs, as a network share)
//   S4: 1,000,000 empty files, 1,000 per folder, under 20 top-level folders
//
// Writes DIR.complete (beside DIR, so no tool copies it) last: a DIR without it is regenerated.
import fs from "node:fs";
import path from "node:path";

const [name, dir] = process.argv.slice(2);
if (!name || !dir) {
  console.error("usage: node bench/datasets.mjs S1|S2|S3|S4|S5 DIR");
  process.exit(2);
}

let seed = 0x5eed;
function random() {  // mulberry32
  seed = (seed + 0x6d2b79f5) >>> 0;
  let t = seed;
  t = Math.imul(t ^ (t >>> 15), t | 1);
  t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
}

// Incompressible bytes: xorshift32 words.
let word = 0x9e3779b9;
function fill(buffer) {
  const words = new Uint32Array(buffer.buffer, buffer.byteOffset, buffer.length >>> 2);
  for (let i = 0; i < words.length; i++) {
    word ^= word << 13;
    word ^= word >>> 17;
    word ^= word << 5;
    words[i] = word >>> 0;
  }
  return buffer;
}

function writeFile(file, size) {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  const fd = fs.openSync(file, "w");
  const chunk = Buffer.alloc(Math.min(size, 8 << 20) + 4);
  for (let left = size; left > 0;) {
    const n = Math.min(left, 8 << 20);
    fs.writeSync(fd, fill(chunk), 0, n);
    left -= n;
  }
  fs.closeSync(fd);
}

const marker = `${dir}.complete`;
if (fs.existsSync(marker)) process.exit(0);
fs.rmSync(dir, { recursive: true, force: true });
fs.mkdirSync(dir, { recursive: true });

switch (name) {
  case "S1":
    for (let i = 0; i < 5000; i++) {
      const size = 1024 + Math.floor(random() * 63 * 1024);
      writeFile(path.join(dir, `folder-${String(i % 50).padStart(2, "0")}`, `file-${i}.bin`), size);
    }
    break;
  case "S2":
    for (let i = 0; i < 4; i++) writeFile(path.join(dir, `large-${i}.bin`), 256 << 20);
    break;
  case "S3":
    for (let i = 0; i < 50000; i++) {
      const size = 16 + Math.floor(random() * 1008);
      writeFile(path.join(dir, `d${String(i % 500).padStart(3, "0")}`, `t${i}.txt`), size);
    }
    break;
  case "S4":
    for (let i = 0; i < 1000000; i++) {
      const folder = Math.floor(i / 1000);
      const sub = path.join(dir, `top${folder % 20}`, `f${folder}`);
      if (i % 1000 === 0) fs.mkdirSync(sub, { recursive: true });
      fs.closeSync(fs.openSync(path.join(sub, `e${i}`), "w"));
    }
    break;
  case "S5":
    for (let i = 0; i < 20000; i++) {
      const size = 1024 + Math.floor(random() * 7 * 1024);
      writeFile(path.join(dir, `share${String(i % 200).padStart(3, "0")}`, `doc-${i}.dat`), size);
    }
    break;
  default:
    console.error(`unknown dataset '${name}': S1, S2, S3, S4 or S5`);
    process.exit(2);
}
fs.writeFileSync(marker, "");
