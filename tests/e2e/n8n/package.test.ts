/**
 * n8n-nodes-homeostat as it would be published: a clean copy of n8n-nodes/ (no dist/, the installed
 * dev dependencies linked in) is built with `n8n-node build`, then `npm pack --dry-run --json` lists
 * what npm would upload. Checked: every node and credential n8n loads, their codex files and icons,
 * LICENSE and README; nothing else (no sources, tests, source maps, config, secrets). Also the
 * metadata n8n's verification and npm's provenance read (repository, homepage, bugs, no runtime
 * dependencies or install scripts), a README that stands alone on npm, and no legacy-peer-deps.
 */
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, relative } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { ROOT, run } from '../../helpers/server.ts'

const PACKAGE = join(ROOT, 'n8n-nodes')
type Manifest = {
  name: string
  license: string
  homepage: string
  repository: { type: string; url: string; directory: string }
  bugs: { url: string }
  keywords: string[]
  files: string[]
  scripts: Record<string, string>
  dependencies?: Record<string, string>
  peerDependencies: Record<string, string>
  n8n: { nodes: string[]; credentials: string[]; strict: boolean }
}
type Packed = { name: string; files: { path: string; size: number }[] }

let copy: string
let packed: Packed
const manifest = JSON.parse(readFileSync(join(PACKAGE, 'package.json'), 'utf8')) as Manifest
const paths = () => packed.files.map((f) => f.path).sort()
/** What must never be published: sources, source maps, tests and fixtures, npm and build config. */
const STRAY = /\.(ts|map)$|\.(test|spec)\.[cm]?js$|(^|\/)(tests?|__tests__|fixtures?)\/|\.npmrc|\.env|tsconfig|eslint/i
async function packList(dir: string) {
  const pack = await run('npm', ['pack', dir, '--dry-run', '--json', '--ignore-scripts'], {}, 60_000)
  if (pack.code !== 0) throw new Error(`npm pack --dry-run failed\n${pack.stderr}`)
  return (JSON.parse(pack.stdout) as Packed[])[0]!
}

beforeAll(async () => {
  copy = mkdtempSync(join(tmpdir(), 'homeostat-n8n-pack-'))
  cpSync(PACKAGE, copy, {
    recursive: true,
    filter: (src) => !/^(node_modules|dist)(\/|$)/.test(relative(PACKAGE, src)),
  })
  symlinkSync(join(PACKAGE, 'node_modules'), join(copy, 'node_modules'))
  const build = await run('npm', ['run', 'build', '--prefix', copy], {}, 240_000)
  if (build.code !== 0) throw new Error(`n8n-node build failed\n${build.stdout.slice(-3000)}\n${build.stderr}`)
  packed = await packList(copy)
}, 300_000)
afterAll(() => {
  if (copy) rmSync(copy, { recursive: true, force: true })
})

describe('npm pack of n8n-nodes-homeostat', () => {
  it('holds every node and credential n8n loads, with codex files and the icons they name', () => {
    expect(packed.name).toBe('n8n-nodes-homeostat')
    const files = paths()
    for (const entry of [...manifest.n8n.nodes, ...manifest.n8n.credentials]) expect(files).toContain(entry)
    for (const node of manifest.n8n.nodes) expect(files).toContain(node.replace(/\.js$/, '.json'))
    // Icons are named relative to the compiled node (file:../../icons/x.svg from dist/nodes/X/).
    const icons = new Set<string>()
    for (const entry of [...manifest.n8n.nodes, ...manifest.n8n.credentials]) {
      const code = readFileSync(join(copy, entry), 'utf8')
      for (const [, icon] of code.matchAll(/file:\.\.\/\.\.\/(icons\/[\w.-]+\.svg)/g)) icons.add(`dist/${icon}`)
    }
    expect(icons.size).toBeGreaterThanOrEqual(2)
    for (const icon of icons) expect(files).toContain(icon)
    expect(files).toEqual(expect.arrayContaining(['LICENSE', 'README.md', 'package.json']))
  })

  it('holds nothing else: no sources, tests, source maps, lock files, config or secrets', () => {
    const files = paths()
    const unexpected = files.filter(
      (f) => !['LICENSE', 'README.md', 'package.json'].includes(f) && !/^dist\/.+\.(js|json|svg)$/.test(f),
    )
    expect(unexpected).toEqual([])
    const stray =
      /\.(ts|map)$|\.(test|spec)\.[cm]?js$|(^|\/)(tests?|__tests__|fixtures?)\/|\.npmrc|\.env|tsconfig|eslint/i
    expect(files.filter((f) => stray.test(f))).toEqual([])
    // No key, token or private key in what is uploaded (Homeostat keys start hs_, npm tokens npm_).
    const secret = /hs_[A-Za-z0-9]{16,}|npm_[A-Za-z0-9]{30,}|-----BEGIN [A-Z ]*PRIVATE KEY-----|whsec_[A-Za-z0-9]{16,}/
    for (const file of files) expect(readFileSync(join(copy, file), 'utf8'), file).not.toMatch(secret)
    expect(readFileSync(join(copy, 'LICENSE'), 'utf8')).toMatch(/^MIT License/)
  })

  it('carries the metadata n8n verification and npm provenance read, and no runtime dependencies', () => {
    expect(manifest.keywords).toContain('n8n-community-node-package')
    expect(manifest.license).toBe('MIT')
    expect(manifest.homepage).toMatch(/^https:\/\//)
    expect(manifest.bugs.url).toMatch(/^https:\/\//)
    // npm checks the provenance statement's repository against this field (with the package folder).
    expect(manifest.repository).toMatchObject({
      type: 'git',
      url: expect.stringMatching(/^git\+https:\/\/github\.com\//),
    })
    expect(manifest.repository.directory).toBe('n8n-nodes')
    expect(manifest.dependencies).toBeUndefined()
    expect(Object.keys(manifest.peerDependencies)).toEqual(['n8n-workflow'])
    for (const hook of ['preinstall', 'install', 'postinstall', 'prepare', 'prepublish'])
      expect(manifest.scripts).not.toHaveProperty(hook)
    expect(manifest.scripts.build).toBe('n8n-node build')
    expect(manifest.scripts.lint).toBe('n8n-node lint')
    expect(manifest.n8n.strict).toBe(true)
  })

  it('has a README that stands alone on npm: every link absolute (https) or an anchor in itself', () => {
    const readme = readFileSync(join(PACKAGE, 'README.md'), 'utf8')
    const links = [...readme.matchAll(/\]\(([^)\s]+)\)/g)].map((m) => m[1]!)
    expect(links.length).toBeGreaterThan(3)
    expect(links.filter((l) => !/^(https:\/\/|#)/.test(l))).toEqual([])
    const anchors = links.filter((l) => l.startsWith('#')).map((l) => l.slice(1))
    const headings = [...readme.matchAll(/^#+ (.+)$/gm)].map((m) =>
      m[1]!
        .toLowerCase()
        .replace(/[^\w\s-]/g, '')
        .trim()
        .replace(/\s/g, '-'),
    )
    for (const anchor of anchors) expect(headings, `#${anchor}`).toContain(anchor)
  })

  it('installs without legacy-peer-deps: no .npmrc or CI step sets it', () => {
    for (const file of ['n8n-nodes/.npmrc', '.ci/run', 'package.json', 'n8n-nodes/package.json']) {
      let text = ''
      try {
        text = readFileSync(join(ROOT, file), 'utf8')
      } catch {
        continue // no such file: nothing set
      }
      expect(text, file).not.toMatch(/legacy-peer-deps/)
    }
  })

  it('is published by a workflow with npm provenance (id-token: write, npm publish --provenance)', () => {
    const workflow = readFileSync(join(ROOT, '.github/workflows/publish-n8n-nodes.yml'), 'utf8')
    expect(workflow).toMatch(/^\s+id-token: write$/m)
    expect(workflow).toMatch(/^\s+working-directory: n8n-nodes$/m)
    expect(workflow).toMatch(/npm publish --provenance --access public/)
    expect(workflow).toMatch(/npm run lint/)
    expect(workflow).toMatch(/- 'n8n-nodes-v\*\.\*\.\*'/)
  })

  it('would catch a source map or a test file left in dist/ (the check is not vacuous)', async () => {
    writeFileSync(join(copy, 'dist/nodes/HomeostatAlert/HomeostatAlert.node.js.map'), '{"version":3}')
    mkdirSync(join(copy, 'dist/tests'))
    writeFileSync(join(copy, 'dist/tests/alert.test.js'), '')
    const files = (await packList(copy)).files.map((f) => f.path)
    expect(files.filter((f) => STRAY.test(f)).sort()).toEqual([
      'dist/nodes/HomeostatAlert/HomeostatAlert.node.js.map',
      'dist/tests/alert.test.js',
    ])
  })
})
