/**
 * A stand-in for an Ollama server: a real local HTTP server answering `GET /api/tags`,
 * `POST /api/generate` and `POST /api/chat` with minimal valid JSON (non-streaming). It can be
 * switched to fail — `error` (500 with an Ollama-style `{"error"}` body), `hang` (accepts the
 * request and never answers) or `down` (closes each connection at once) — and back to `ok`.
 */
import { createServer, type ServerResponse } from 'node:http'
import type { Socket } from 'node:net'
import { listenLocal, readBody } from './http.ts'

export type FakeModelMode = 'ok' | 'error' | 'hang' | 'down'

export type FakeModelHost = Awaited<ReturnType<typeof startFakeModelHost>>

export async function startFakeModelHost(opts: { models?: string[]; mode?: FakeModelMode } = {}) {
  const models = opts.models ?? ['llama3:8b']
  let mode: FakeModelMode = opts.mode ?? 'ok'
  const sockets = new Set<Socket>()
  const hanging = new Set<ServerResponse>()
  const counts = { total: 0, tags: 0, generate: 0, chat: 0, failed: 0 }

  const send = (res: ServerResponse, status: number, body: unknown) => {
    const text = JSON.stringify(body)
    res.writeHead(status, {
      'content-type': 'application/json; charset=utf-8',
      'content-length': Buffer.byteLength(text),
    })
    res.end(text)
  }
  const server = createServer(async (req, res) => {
    counts.total++
    const path = (req.url ?? '/').split('?')[0]
    if (mode === 'down') {
      counts.failed++
      req.socket.destroy()
      return
    }
    if (mode === 'hang') {
      counts.failed++
      hanging.add(res)
      res.on('close', () => hanging.delete(res))
      return
    }
    if (mode === 'error') {
      counts.failed++
      return send(res, 500, { error: 'model runner has unexpectedly stopped' })
    }
    const now = new Date().toISOString()
    if (req.method === 'GET' && path === '/api/tags') {
      counts.tags++
      return send(res, 200, {
        models: models.map((name) => ({
          name,
          model: name,
          modified_at: now,
          size: 4_661_224_676,
          digest: 'sha256:0000000000000000000000000000000000000000000000000000000000000000',
          details: { format: 'gguf', family: 'llama', parameter_size: '8.0B', quantization_level: 'Q4_0' },
        })),
      })
    }
    if (req.method === 'GET' && path === '/') return res.end('Ollama is running')
    if (req.method === 'POST' && (path === '/api/generate' || path === '/api/chat')) {
      const { json } = await readBody(req)
      const body = (json && typeof json === 'object' ? json : {}) as Record<string, unknown>
      const model = typeof body.model === 'string' ? body.model : ''
      if (!models.includes(model)) return send(res, 404, { error: `model "${model}" not found, try pulling it first` })
      const timing = {
        total_duration: 1_000_000,
        load_duration: 100_000,
        prompt_eval_count: 5,
        prompt_eval_duration: 200_000,
        eval_count: 3,
        eval_duration: 600_000,
      }
      if (path === '/api/generate') {
        counts.generate++
        return send(res, 200, {
          model,
          created_at: now,
          response: `ok from ${model}`,
          done: true,
          done_reason: 'stop',
          context: [1, 2, 3],
          ...timing,
        })
      }
      counts.chat++
      return send(res, 200, {
        model,
        created_at: now,
        message: { role: 'assistant', content: `ok from ${model}` },
        done: true,
        done_reason: 'stop',
        ...timing,
      })
    }
    send(res, 404, { error: 'not found' })
  })
  server.on('connection', (s: Socket) => {
    sockets.add(s)
    s.on('close', () => sockets.delete(s))
  })
  const url = await listenLocal(server)

  return {
    url,
    port: Number(new URL(url).port),
    counts,
    get mode() {
      return mode
    },
    /** Switches how every following request is answered; leaving `hang` ends the requests held so far. */
    setMode(next: FakeModelMode) {
      mode = next
      if (next !== 'hang') for (const res of hanging) res.destroy()
    },
    async close() {
      for (const res of hanging) res.destroy()
      for (const s of sockets) s.destroy()
      await new Promise<void>((resolve) => server.close(() => resolve()))
    },
  }
}
