import { readFile } from 'node:fs/promises'
import { extname, normalize } from 'node:path'
import { fileURLToPath } from 'node:url'
import type { Context } from 'hono'
import { notFound } from './errors.ts'

const root = fileURLToPath(new URL('../../public/', import.meta.url))
const types: Record<string, string> = {
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.json': 'application/json',
  '.woff2': 'font/woff2',
}

/** Serves files under public/ (vendored htmx, css, icons) on every runtime; cached in memory. */
export function serveStatic(prefix: string) {
  const cache = new Map<string, Uint8Array>()
  return async (c: Context) => {
    const rel = normalize(decodeURIComponent(c.req.path.slice(prefix.length))).replace(/^(\.\.(\/|$))+/, '')
    const type = types[extname(rel)]
    if (!type || rel.includes('..') || rel.startsWith('/')) throw notFound('File')
    let body = cache.get(rel)
    if (!body) {
      body = await readFile(root + rel).catch(() => undefined)
      if (!body) throw notFound('File')
      cache.set(rel, body)
    }
    return c.body(body as Uint8Array<ArrayBuffer>, 200, {
      'Content-Type': type,
      'Cache-Control': 'public, max-age=3600',
    })
  }
}
