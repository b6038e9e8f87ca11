/**
 * The streaming side of the outbound helper against real servers on 127.0.0.1. Every other address
 * here is one the policy refuses before connecting (and the tests check that nothing connected).
 */
import { createHash } from 'node:crypto'
import { createServer, type Server } from 'node:http'
import { afterAll, describe, expect, it } from 'vitest'
import { createOutboundPolicy, OutboundError, parseOutboundAllow } from '../../app/lib/outbound.ts'
import { outboundStream } from '../../app/lib/outbound-stream.ts'
import { connectsDuring } from '../helpers/connections.ts'
import { listenLocal } from '../helpers/http.ts'

const seen: string[] = []
const server: Server = createServer(async (req, res) => {
  seen.push(`${req.method} ${req.url}`)
  if (req.url === '/echo-hash') {
    const hash = createHash('sha256')
    let size = 0
    for await (const chunk of req) {
      hash.update(chunk as Buffer)
      size += (chunk as Buffer).length
    }
    return res.end(JSON.stringify({ size, sha256: hash.digest('hex'), chunked: req.headers['transfer-encoding'] }))
  }
  if (req.url === '/silent') return // never answers
  if (req.url === '/stalls') return void res.writeHead(200).write('first bytes, then nothing')
  if (req.url === '/moved') return res.writeHead(302, { location: '/elsewhere' }).end()
  res.writeHead(404).end()
})
const base = await listenLocal(server)
afterAll(
  () =>
    new Promise<void>((resolve) => {
      server.closeAllConnections()
      server.close(() => resolve())
    }),
)
const policy = createOutboundPolicy({ OUTBOUND_ALLOW: parseOutboundAllow('127.0.0.1') })

async function failure(work: Promise<unknown>): Promise<OutboundError> {
  try {
    await work
  } catch (error) {
    expect(error).toBeInstanceOf(OutboundError)
    return error as OutboundError
  }
  throw new Error('expected a failure')
}

async function* pieces(count: number, size: number) {
  for (let i = 0; i < count; i++) yield Buffer.alloc(size, i)
}

describe('outboundStream', () => {
  it('sends a body read from an async iterable (chunked) and hands back the answer as a stream', async () => {
    const res = await outboundStream(policy, `${base}/echo-hash`, { method: 'POST', body: pieces(40, 100_000) })
    expect(res.status).toBe(200)
    let text = ''
    for await (const chunk of res.body) text += chunk
    const expected = createHash('sha256')
    for await (const p of pieces(40, 100_000)) expected.update(p)
    expect(JSON.parse(text)).toEqual({ size: 4_000_000, sha256: expected.digest('hex'), chunked: 'chunked' })
  })

  it('returns a redirect as it is, without following it', async () => {
    const before = seen.length
    const res = await outboundStream(policy, `${base}/moved`)
    res.body.resume()
    expect(res.status).toBe(302)
    expect(res.headers.get('location')).toBe('/elsewhere')
    expect(seen.slice(before)).toEqual(['GET /moved'])
  })

  it('times out when the peer goes silent', async () => {
    const error = await failure(outboundStream(policy, `${base}/silent`, { idleTimeoutMs: 200 }))
    expect(error.reason).toBe('timeout')
    expect(error.message).toBe('no data for 200 ms')
  })

  it('fails the body’s stream when the peer goes silent in the middle of it', async () => {
    const res = await outboundStream(policy, `${base}/stalls`, { idleTimeoutMs: 200 })
    expect(res.status).toBe(200)
    let received = ''
    const error = await failure(
      (async () => {
        for await (const chunk of res.body) received += chunk
      })(),
    )
    expect(received).toBe('first bytes, then nothing')
    expect(error.reason).toBe('timeout')
    expect(error.message).toBe('no data for 200 ms')
  })

  it('ends when the caller cancels', async () => {
    const controller = new AbortController()
    const call = outboundStream(policy, `${base}/silent`, { signal: controller.signal })
    setTimeout(() => controller.abort(), 50)
    const error = await failure(call)
    expect(error.reason).toBe('aborted')
  })

  it('fails with the body’s own error when the body cannot be read to its end', async () => {
    async function* broken() {
      yield Buffer.from('start')
      throw new Error('the command died')
    }
    let caught: unknown
    try {
      await outboundStream(policy, `${base}/echo-hash`, { method: 'POST', body: broken() })
    } catch (error) {
      caught = error
    }
    expect(caught).toBeInstanceOf(Error)
    expect((caught as Error).message).toBe('the command died')
  })

  it('refuses a private address before connecting, whatever name leads to it', async () => {
    const pointing = createOutboundPolicy({ OUTBOUND_ALLOW: [] }, async () => [{ address: '10.1.2.3', family: 4 }])
    let error: OutboundError | undefined
    const connects = await connectsDuring(async () => {
      error = await failure(
        outboundStream(pointing, 'http://qdrant.internal:6333/collections', { body: pieces(1, 10) }),
      )
    })
    expect(connects).toBe(0)
    expect(error!.reason).toBe('refused')
    expect(error!.message).toBe('refused by the outbound policy')
  })

  it('refuses what is not an http(s) URL', async () => {
    const error = await failure(outboundStream(policy, 'file:///etc/passwd'))
    expect(error.reason).toBe('invalid_url')
  })
})
