import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs'
import { dirname, join, relative, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { describe, expect, it } from 'vitest'

/**
 * Every relative link in the README, BENCHMARKS.md, the n8n package's README and docs/ must resolve:
 * the file (or folder) exists, and an `#anchor` names a heading of the Markdown file it points to
 * (GitHub's slugs). Links with a scheme (https:, mailto:) are not checked.
 */
const ROOT = fileURLToPath(new URL('../..', import.meta.url))

function markdownUnder(dir: string): string[] {
  if (!existsSync(dir)) return []
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name)
    if (statSync(path).isDirectory()) return markdownUnder(path)
    return name.endsWith('.md') ? [path] : []
  })
}

const FILES = [
  join(ROOT, 'README.md'),
  join(ROOT, 'BENCHMARKS.md'),
  join(ROOT, 'n8n-nodes/README.md'),
  ...markdownUnder(join(ROOT, 'docs')),
]

/** The text with fenced code blocks blanked out (line numbers kept), so `[x](y)` in code is not a link. */
function withoutCodeBlocks(text: string): string {
  let fence: string | undefined
  return text
    .split('\n')
    .map((line) => {
      const marker = /^ {0,3}(`{3,}|~{3,})/.exec(line)?.[1]
      if (fence === undefined && marker) {
        fence = marker
        return ''
      }
      if (fence !== undefined) {
        if (marker && marker[0] === fence[0] && marker.length >= fence.length) fence = undefined
        return ''
      }
      return line
    })
    .join('\n')
}

/** Inline code spans (`…`, ``…``) blanked out: their brackets are not links. */
const withoutCodeSpans = (text: string) => text.replace(/(`+)[\s\S]*?\1/g, ' ')

/** GitHub's heading slug: lower case, punctuation and symbols dropped (not `-` or `_`), spaces to `-`. */
function slug(heading: string): string {
  const text = heading
    .replace(/!?\[([^\]]*)\]\([^)]*\)/g, '$1') // a link or image: its text
    .replace(/<[^>]+>/g, '') // HTML tags
    .replace(/`/g, '')
    .replace(/\*+/g, '')
  return text
    .trim()
    .toLowerCase()
    .replace(/[^\p{L}\p{M}\p{N}\p{Pc}\- ]/gu, '')
    .replace(/ /g, '-')
}

/** The anchors a Markdown file offers: its headings' slugs (repeats numbered -1, -2, as GitHub does) and HTML ids. */
function anchorsOf(text: string): Set<string> {
  const anchors = new Set<string>()
  const seen = new Map<string, number>()
  for (const line of withoutCodeBlocks(text).split('\n')) {
    const heading = /^ {0,3}#{1,6}\s+(.*?)(?:\s+#+)?\s*$/.exec(line)
    if (heading) {
      const base = slug(heading[1]!)
      const n = seen.get(base) ?? 0
      seen.set(base, n + 1)
      anchors.add(n ? `${base}-${n}` : base)
    }
    for (const m of line.matchAll(/<a\s+(?:name|id)="([^"]+)"/g)) anchors.add(m[1]!)
  }
  return anchors
}

/** Every link target in the text: inline links and images `[t](target "title")`, and reference definitions. */
function linksOf(text: string): string[] {
  const prose = withoutCodeSpans(withoutCodeBlocks(text))
  const inline = [
    ...prose.matchAll(/!?\[(?:[^[\]]|\[[^[\]]*\])*\]\(\s*<?([^)\s>]*)>?(?:\s+(?:"[^"]*"|'[^']*'))?\s*\)/g),
  ]
  const defined = [...prose.matchAll(/^ {0,3}\[[^\]]+\]:\s*<?([^\s>]+)>?/gm)]
  return [...inline, ...defined].map((m) => m[1]!)
}

const hasScheme = (target: string) => /^[a-z][a-z0-9+.-]*:/i.test(target) || target.startsWith('//')

/** Why `target`, linked from `file`, does not resolve; undefined when it does. */
function problemWith(file: string, target: string): string | undefined {
  if (hasScheme(target)) return undefined
  if (target === '') return 'empty link'
  const hash = target.indexOf('#')
  const pathPart = decodeURIComponent(hash < 0 ? target : target.slice(0, hash))
  const anchor = hash < 0 ? undefined : decodeURIComponent(target.slice(hash + 1))
  const resolved =
    pathPart === '' ? file : pathPart.startsWith('/') ? join(ROOT, pathPart) : resolve(dirname(file), pathPart)
  if (!existsSync(resolved)) return `no such file: ${relative(ROOT, resolved)}`
  if (anchor === undefined || anchor === '') return undefined
  if (!resolved.endsWith('.md')) return undefined // anchors into other files (line numbers, …) are not checked
  if (!anchorsOf(readFileSync(resolved, 'utf8')).has(anchor.toLowerCase())) {
    return `no heading #${anchor} in ${relative(ROOT, resolved)}`
  }
  return undefined
}

describe('documentation links', () => {
  it('finds the documents and their links', () => {
    for (const file of FILES.slice(0, 3)) expect(existsSync(file), relative(ROOT, file)).toBe(true)
    expect(FILES.length).toBeGreaterThan(10)
    const readmeLinks = linksOf(readFileSync(join(ROOT, 'README.md'), 'utf8')).filter((l) => !hasScheme(l))
    expect(readmeLinks.length).toBeGreaterThan(10)
  })

  it('every relative link in README.md, BENCHMARKS.md, n8n-nodes/README.md and docs/ resolves', () => {
    const broken: string[] = []
    for (const file of FILES) {
      for (const target of linksOf(readFileSync(file, 'utf8'))) {
        const problem = problemWith(file, target)
        if (problem) broken.push(`${relative(ROOT, file)}: (${target}) ${problem}`)
      }
    }
    expect(broken).toEqual([])
  })

  it('makes slugs as GitHub does', () => {
    expect(slug('Prometheus remote write: `POST /api/v1/write`')).toBe('prometheus-remote-write-post-apiv1write')
    expect(slug('`/alerts/:id`: one alert')).toBe('alertsid-one-alert')
    expect(slug('Intake: what the main thread spends, and 40 % fewer allocations')).toBe(
      'intake-what-the-main-thread-spends-and-40--fewer-allocations',
    )
    expect(slug('The runtime’s heap: `BUN_JSC_heapGrowthMaxIncrease`')).toBe(
      'the-runtimes-heap-bun_jsc_heapgrowthmaxincrease',
    )
    expect([...anchorsOf('# A\n## Notes\n```\n# not a heading\n```\n## Notes\n')]).toEqual(['a', 'notes', 'notes-1'])
  })

  it('finds broken links and ignores code', () => {
    const file = join(ROOT, 'docs/README.md')
    expect(problemWith(file, 'no-such-page.md')).toMatch(/no such file/)
    expect(problemWith(file, 'api.md#no-such-heading')).toMatch(/no heading/)
    expect(problemWith(file, 'api.md#errors')).toBeUndefined()
    expect(problemWith(file, 'https://example.com/x.md')).toBeUndefined()
    expect(linksOf('see [a](b.md) and `[c](d.md)`\n```\n[e](f.md)\n```\n[g]: h.md')).toEqual(['b.md', 'h.md'])
  })
})
