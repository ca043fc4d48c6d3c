// Generates the demo's sample file share: a few thousand files of mixed sizes in nested
// folders, with awkward names, empty folders, a link and a name Azure cannot store.
//   node scripts/sample_tree.mjs DIR
import { mkdirSync, writeFileSync, symlinkSync } from "node:fs";
import { join } from "node:path";
import { randomBytes } from "node:crypto";

const root = process.argv[2];
if (!root) {
  console.error("usage: node scripts/sample_tree.mjs DIR");
  process.exit(2);
}

let seed = 42;
function random() {
  seed = (seed * 1103515245 + 12345) % 2147483648;
  return seed / 2147483648;
}
// Names and sizes follow the seeded generator above; contents are random bytes.
function bytes(n) {
  return randomBytes(n);
}

const departments = ["finance", "hr", "engineering", "legal", "marketing"];
const awkward = ["Q3 report #2", "budget 100%", "what? why", "café menu", "日本語 メモ", "a+b&c", "emoji 🚀"];
const extensions = [".txt", ".csv", ".pdf", ".docx", ".png"];
let files = 0;
for (const dept of departments) {
  for (let year = 2019; year <= 2024; year++) {
    for (let month = 1; month <= 12; month += 1) {
      const folder = join(root, dept, String(year), String(month).padStart(2, "0"));
      mkdirSync(folder, { recursive: true });
      const count = 6 + Math.floor(random() * 6);
      for (let i = 0; i < count; i++) {
        const roll = random();
        const size = roll < 0.05 ? 0 : roll < 0.85 ? Math.floor(random() * 16384) : roll < 0.99 ? Math.floor(random() * 1048576) : 1048576 + Math.floor(random() * 3145728);
        const name = `${awkward[(files + i) % awkward.length]} ${files}${extensions[i % extensions.length]}`;
        writeFileSync(join(folder, name), bytes(size));
        files++;
      }
    }
  }
}
mkdirSync(join(root, "archive", "empty folder"), { recursive: true });
mkdirSync(join(root, "scratch"), { recursive: true });
writeFileSync(join(root, "archive", "video.mp4"), bytes(32 * 1048576));
mkdirSync(join(root, "legacy."), { recursive: true });
writeFileSync(join(root, "legacy.", "old.txt"), bytes(100));
symlinkSync("finance", join(root, "finance-link"));
console.log(`${files + 2} files in ${root}`);
