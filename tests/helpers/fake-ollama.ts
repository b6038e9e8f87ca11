/**
 * A stand-in for an Ollama server's model management API, written from Ollama's API documentation
 * (docs.ollama.com/api): `POST /api/create` (the current JSON form: `model`, `from`, `system`,
 * `template`, `parameters`, `messages`, `license`; NDJSON progress lines ending in `{"status":"success"}`),
 * `POST /api/show`, `GET /api/tags`, `POST /api/copy`, `DELETE /api/delete`. Errors are answered as
 * Ollama answers them: `{"error": "..."}` with 400/404/500, or an `{"error"}` line inside the stream.
 * Latencies and failures are configurable per endpoint; a real HTTP server on 127.0.0.1.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import type { Socket } from 'node:net'
import { createHash } from 'node:crypto'
import { listenLocal, readBody } from './http.ts'

type Stored = { from: string; system?: string; template?: string; parameters?: Record<string, unknown>; digest: string }

export type FakeOllamaOptions = {
  /** Models the host has from the start (base models a create may name in `from`). */
  models?: string[]
  /** Milliseconds between create progress lines, and before answering each other endpoint. */
  latency?: Partial<Record<'createLine' | 'show' | 'copy' | 'tags' | 'delete', number>>
  /** A header every call must carry (a reverse proxy's token): 401 `{"error":"unauthorized"}` otherwise. */
  requireHeader?: { name: string; value: string }
}

/** How the next creates fail: an error status before the stream, an `{"error"}` line mid-stream, or a cut connection. */
export type CreateFailure = 'status' | 'midstream' | 'disconnect' | null

const tagged = (name: string) => (name.includes(':') ? name : `${name}:latest`)
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

export async function startFakeOllama(opts: FakeOllamaOptions = {}) {
  const store = new Map<string, Stored>()
  for (const m of opts.models ?? ['qwen2.5:7b']) store.set(tagged(m), { from: m, digest: digestOf(m) })
  const latency = { createLine: 0, show: 0, copy: 0, tags: 0, delete: 0, ...opts.latency }
  let createFailure: CreateFailure = null
  let showFails = false
  const requests: { method: string; path: string; body: unknown; headers: IncomingMessage['headers'] }[] = []
  const sockets = new Set<Socket>()

  const send = (res: ServerResponse, status: number, body?: unknown) => {
    const text = body === undefined ? '' : JSON.stringify(body)
    res.writeHead(status, {
      'content-type': 'application/json; charset=utf-8',
      'content-length': Buffer.byteLength(text),
    })
    res.end(text)
  }

  async function create(res: ServerResponse, req: IncomingMessage, body: Record<string, unknown>) {
    const model = typeof body.model === 'string' ? tagged(body.model) : ''
    const from = typeof body.from === 'string' ? body.from : ''
    if (!model) return send(res, 400, { error: 'model is required' })
    if (!from) return send(res, 400, { error: "neither 'from' or 'files' was specified" })
    if (createFailure === 'status') return send(res, 500, { error: 'create failed: no space left on device' })
    res.writeHead(200, { 'content-type': 'application/x-ndjson' })
    const line = async (o: Record<string, unknown>) => {
      res.write(`${JSON.stringify(o)}\n`)
      if (latency.createLine) await sleep(latency.createLine)
    }
    if (!store.has(tagged(from))) {
      await line({ status: 'pulling manifest' })
      res.end(`${JSON.stringify({ error: `pull model manifest: file does not exist` })}\n`)
      return
    }
    await line({ status: 'using existing layer sha256:' + store.get(tagged(from))!.digest.slice(7) })
    if (typeof body.system === 'string') await line({ status: 'creating system layer' })
    if (typeof body.template === 'string') await line({ status: 'creating template layer' })
    if (body.parameters) await line({ status: 'creating parameters layer' })
    if (createFailure === 'midstream') {
      res.end(`${JSON.stringify({ error: 'invalid model configuration' })}\n`)
      return
    }
    if (createFailure === 'disconnect') {
      req.socket.destroy()
      return
    }
    await line({ status: 'writing manifest' })
    store.set(model, {
      from,
      ...(typeof body.system === 'string' ? { system: body.system } : {}),
      ...(typeof body.template === 'string' ? { template: body.template } : {}),
      ...(body.parameters ? { parameters: body.parameters as Record<string, unknown> } : {}),
      digest: digestOf(JSON.stringify(body)),
    })
    res.end(`${JSON.stringify({ status: 'success' })}\n`)
  }

  const server = createServer(async (req, res) => {
    const path = (req.url ?? '/').split('?')[0]!
    const { json } = await readBody(req)
    const body = (json && typeof json === 'object' ? json : {}) as Record<string, unknown>
    requests.push({ method: req.method ?? '', path, body, headers: req.headers })
    if (opts.requireHeader && req.headers[opts.requireHeader.name.toLowerCase()] !== opts.requireHeader.value)
      return send(res, 401, { error: 'unauthorized' })
    if (req.method === 'POST' && path === '/api/create') return create(res, req, body)
    const name = tagged(String(body.model ?? body.name ?? ''))
    if (req.method === 'POST' && path === '/api/show') {
      await sleep(latency.show)
      if (showFails) return send(res, 500, { error: 'failed to load model' })
      const m = store.get(name)
      if (!m) return send(res, 404, { error: `model '${name}' not found` })
      return send(res, 200, {
        modelfile: `FROM ${m.from}\n${m.system ? `SYSTEM ${m.system}\n` : ''}`,
        parameters: Object.entries(m.parameters ?? {})
          .map(([k, v]) => `${k} ${Array.isArray(v) ? v.join(' ') : v}`)
          .join('\n'),
        template: m.template ?? '{{ .Prompt }}',
        ...(m.system ? { system: m.system } : {}),
        details: {
          parent_model: m.from,
          format: 'gguf',
          family: 'qwen2',
          parameter_size: '7.6B',
          quantization_level: 'Q4_K_M',
        },
        model_info: { 'general.architecture': 'qwen2' },
        capabilities: ['completion'],
        modified_at: new Date().toISOString(),
      })
    }
    if (req.method === 'GET' && path === '/api/tags') {
      await sleep(latency.tags)
      return send(res, 200, {
        models: [...store.entries()].map(([n, m]) => ({
          name: n,
          model: n,
          modified_at: new Date().toISOString(),
          size: 4_683_087_332,
          digest: m.digest.slice(7),
          details: { parent_model: m.from, format: 'gguf', family: 'qwen2' },
        })),
      })
    }
    if (req.method === 'POST' && path === '/api/copy') {
      await sleep(latency.copy)
      const source = tagged(String(body.source ?? ''))
      const destination = tagged(String(body.destination ?? ''))
      const m = store.get(source)
      if (!m) return send(res, 404, { error: `model '${source}' not found` })
      store.set(destination, { ...m })
      return send(res, 200)
    }
    if (req.method === 'DELETE' && path === '/api/delete') {
      await sleep(latency.delete)
      if (!store.delete(name)) return send(res, 404, { error: `model '${name}' not found` })
      return send(res, 200)
    }
    if (req.method === 'GET' && path === '/') return res.end('Ollama is running')
    send(res, 404, { error: 'not found' })
  })
  server.on('connection', (s: Socket) => {
    sockets.add(s)
    s.on('close', () => sockets.delete(s))
  })
  const url = await listenLocal(server)

  return {
    url,
    requests,
    /** What the host has now: tag → what it was created from (and its system prompt, parameters). */
    store,
    has: (name: string) => store.has(tagged(name)),
    /** The model the `live` tag (or any tag) was copied from: compared by digest. */
    sameAs: (a: string, b: string) => store.get(tagged(a))?.digest === store.get(tagged(b))?.digest,
    set createFailure(f: CreateFailure) {
      createFailure = f
    },
    set showFails(f: boolean) {
      showFails = f
    },
    latency,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy()
        server.close(() => resolve())
      }),
  }
}

function digestOf(text: string) {
  return `sha256:${createHash('sha256').update(text).digest('hex')}`
}

export type FakeOllama = Awaited<ReturnType<typeof startFakeOllama>>
