/**
 * The calls Homeostat makes to an Ollama host, from Ollama's HTTP API documentation: `/api/create`
 * (NDJSON progress), `/api/show`, `/api/tags`, `/api/copy`, `/api/delete`. Every call goes through the
 * outbound policy (the host's URL is user-configured) and carries the host's auth header, if any.
 */
import { type OutboundPolicy, outboundFetch } from '../../../lib/outbound.ts'
import { outboundStream } from '../../../lib/outbound-stream.ts'

export type OllamaTarget = { url: string; headers: Record<string, string> }
export type CreateProgress = { status: string; digest?: string; total?: number; completed?: number }

/** What Ollama answered in its own words (`{"error": "..."}`), or what went wrong reaching it. */
export class OllamaError extends Error {
  constructor(
    message: string,
    readonly status?: number,
  ) {
    super(message)
    this.name = 'OllamaError'
  }
}

const TIMEOUT_MS = 30_000
const json = { 'content-type': 'application/json' }

/** Ollama's error text from an answer body, or a plain description of the status. */
function errorOf(status: number, text: string) {
  try {
    const body = JSON.parse(text) as { error?: unknown }
    if (typeof body.error === 'string') return body.error.slice(0, 500)
  } catch {
    // not JSON: described by its status below
  }
  return `HTTP ${status}`
}

async function call(policy: OutboundPolicy, host: OllamaTarget, method: string, path: string, body?: unknown) {
  const res = await outboundFetch(policy, `${host.url}${path}`, {
    method,
    headers: { ...json, ...host.headers },
    body: body === undefined ? undefined : JSON.stringify(body),
    timeoutMs: TIMEOUT_MS,
    maxRedirects: 0,
  })
  return res
}

export function ollamaClient(policy: OutboundPolicy) {
  /**
   * `POST /api/create` with `stream: true`: yields each progress line (`{"status": ...}`) as it
   * arrives; throws an OllamaError for an error status, an `{"error"}` line, or a stream that ends
   * without `"success"`.
   */
  async function* create(host: OllamaTarget, body: Record<string, unknown>, signal?: AbortSignal) {
    const res = await outboundStream(policy, `${host.url}/api/create`, {
      method: 'POST',
      headers: { ...json, ...host.headers },
      body: new TextEncoder().encode(JSON.stringify(body)),
      idleTimeoutMs: 120_000,
      signal,
    })
    if (res.status !== 200) {
      const chunks: Buffer[] = []
      for await (const c of res.body) if (chunks.reduce((n, b) => n + b.length, 0) < 65_536) chunks.push(c as Buffer)
      throw new OllamaError(errorOf(res.status, Buffer.concat(chunks).toString('utf8')), res.status)
    }
    let rest = ''
    let succeeded = false
    const decoder = new TextDecoder()
    const parse = (line: string): CreateProgress | undefined => {
      if (!line.trim()) return undefined
      let item: Record<string, unknown>
      try {
        item = JSON.parse(line) as Record<string, unknown>
      } catch {
        throw new OllamaError(`the host sent a line that is not JSON: ${line.slice(0, 80)}`)
      }
      if (typeof item.error === 'string') throw new OllamaError(item.error.slice(0, 500))
      const status = typeof item.status === 'string' ? item.status.slice(0, 200) : ''
      if (status === 'success') succeeded = true
      return {
        status,
        ...(typeof item.digest === 'string' ? { digest: item.digest } : {}),
        ...(typeof item.total === 'number' ? { total: item.total } : {}),
        ...(typeof item.completed === 'number' ? { completed: item.completed } : {}),
      }
    }
    for await (const chunk of res.body) {
      rest += decoder.decode(chunk as Buffer, { stream: true })
      if (rest.length > 1_000_000) throw new OllamaError('a progress line longer than 1 MB')
      const lines = rest.split('\n')
      rest = lines.pop()!
      for (const line of lines) {
        const p = parse(line)
        if (p) yield p
      }
    }
    const last = parse(rest)
    if (last) yield last
    if (!succeeded) throw new OllamaError('the host ended the create stream without "success"')
  }

  /** `POST /api/show`: the model's details, or null when the host does not have it (404). */
  async function show(host: OllamaTarget, model: string) {
    const res = await call(policy, host, 'POST', '/api/show', { model })
    if (res.status === 404) return null
    if (res.status !== 200) throw new OllamaError(errorOf(res.status, res.text()), res.status)
    return JSON.parse(res.text()) as { modelfile?: string; parameters?: string; template?: string; system?: string }
  }

  /** `GET /api/tags`: the models the host has. */
  async function tags(host: OllamaTarget) {
    const res = await call(policy, host, 'GET', '/api/tags')
    if (res.status !== 200) throw new OllamaError(errorOf(res.status, res.text()), res.status)
    const body = JSON.parse(res.text()) as {
      models?: { name?: string; model?: string; size?: number; digest?: string; modified_at?: string }[]
    }
    return (body.models ?? []).map((m) => ({
      name: String(m.name ?? m.model ?? ''),
      size: typeof m.size === 'number' ? m.size : null,
      digest: typeof m.digest === 'string' ? m.digest : null,
      modifiedAt: typeof m.modified_at === 'string' ? m.modified_at : null,
    }))
  }

  /** `POST /api/copy`: the stable tag (`<model>:live`) made to point at a version's tag. */
  async function copy(host: OllamaTarget, source: string, destination: string) {
    const res = await call(policy, host, 'POST', '/api/copy', { source, destination })
    if (res.status !== 200) throw new OllamaError(errorOf(res.status, res.text()), res.status)
  }

  /** `DELETE /api/delete`: true when deleted, false when the host did not have it (404). */
  async function remove(host: OllamaTarget, model: string) {
    const res = await call(policy, host, 'DELETE', '/api/delete', { model })
    if (res.status === 404) return false
    if (res.status !== 200) throw new OllamaError(errorOf(res.status, res.text()), res.status)
    return true
  }

  return { create, show, tags, copy, remove }
}

export type OllamaClient = ReturnType<typeof ollamaClient>
