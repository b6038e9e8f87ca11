// Copies what tsc does not emit (icons and codex files) into dist/, keeping their folders.
import { cpSync, readdirSync, statSync } from 'node:fs'
import { dirname, join, relative } from 'node:path'
import { fileURLToPath } from 'node:url'

const root = join(dirname(fileURLToPath(import.meta.url)), '..')
const copied = []
function walk(dir) {
  for (const name of readdirSync(join(root, dir))) {
    const path = join(dir, name)
    if (statSync(join(root, path)).isDirectory()) walk(path)
    else if (/\.(svg|png|json)$/.test(name)) {
      cpSync(join(root, path), join(root, 'dist', path))
      copied.push(relative(root, path))
    }
  }
}
for (const dir of ['icons', 'nodes', 'credentials']) walk(dir)
console.log(`copied ${copied.length} assets to dist/`)
