/**
 * The S3 destination against a real S3-protocol server (s3rver) on 127.0.0.1: the SDK's requests
 * all go through the outbound helper (`policyHandler`), so a closed policy means no connection.
 */
import { createHash } from 'node:crypto'
import { afterAll, describe, expect, it } from 'vitest'
import { createOutboundPolicy, OutboundError, parseOutboundAllow } from '../../app/lib/outbound.ts'
import { s3Destination } from '../../app/modules/backups/index.ts'
import { connectsDuring } from '../helpers/connections.ts'
import { startS3 } from '../helpers/s3-server.ts'
import { collect, failure } from '../helpers/streams.ts'

const s3 = await startS3(['backups'])
afterAll(() => s3.close())
const outbound = createOutboundPolicy({ OUTBOUND_ALLOW: parseOutboundAllow('127.0.0.1') })
const config = (over: Partial<Parameters<typeof s3Destination>[1]> = {}) => ({
  endpoint: s3.endpoint,
  region: 'us-east-1',
  bucket: 'backups',
  prefix: 'homeostat/',
  accessKeyId: s3.accessKeyId,
  secretAccessKey: s3.secretAccessKey,
  forcePathStyle: true,
  ...over,
})
const dest = s3Destination({ outbound }, config())

async function* bytes(...parts: string[]) {
  for (const p of parts) yield new TextEncoder().encode(p)
}

/** `size` bytes that differ from chunk to chunk (a counter run through sha256), made as they are read. */
async function* generated(size: number, digest: { hex?: string }) {
  const hash = createHash('sha256')
  const chunk = 1024 * 1024
  for (let at = 0, n = 0; at < size; at += chunk, n++) {
    const block = Buffer.alloc(Math.min(chunk, size - at), createHash('sha256').update(String(n)).digest())
    hash.update(block)
    yield block
  }
  digest.hex = hash.digest('hex')
}

describe('S3 destination', () => {
  it('puts, lists, gets and removes objects under its prefix', async () => {
    expect(dest.kind).toBe('s3')
    expect(await dest.put('qdrant/docs/2026-12-07.snapshot', bytes('hello ', 'world'))).toEqual({ size: 11 })
    expect(await dest.put('command/app-db/1.sql', bytes('create table t;'))).toEqual({ size: 15 })
    expect((await collect(dest.get('qdrant/docs/2026-12-07.snapshot'))).toString()).toBe('hello world')
    expect(await dest.list('qdrant/')).toEqual([{ key: 'qdrant/docs/2026-12-07.snapshot', size: 11 }])
    expect((await dest.list('')).map((o) => o.key).sort()).toEqual([
      'command/app-db/1.sql',
      'qdrant/docs/2026-12-07.snapshot',
    ])
    // The keys are stored under the prefix: another destination without it sees them there.
    const bare = s3Destination({ outbound }, config({ prefix: '' }))
    expect((await bare.list('homeostat/command/')).map((o) => o.key)).toEqual(['homeostat/command/app-db/1.sql'])
    await dest.remove('qdrant/docs/2026-12-07.snapshot')
    expect(await dest.list('qdrant/')).toEqual([])
  })

  it('fails clearly on a key that is not there', async () => {
    const error = await failure(collect(dest.get('nothing/here')))
    expect(error.message).toBe('no backup nothing/here in bucket backups')
  })

  it('streams a 20 MB object up in parts (multipart) and back down intact', async () => {
    const sent: { hex?: string } = {}
    const before = s3.requests.length
    expect(await dest.put('big/20mb.bin', generated(20 * 1024 * 1024, sent))).toEqual({ size: 20 * 1024 * 1024 })
    const calls = s3.requests.slice(before).map((r) => `${r.method} ${r.url.replace(/uploadId=[^&]+/, 'uploadId=ID')}`)
    expect(calls.filter((c) => /^POST .*\?uploads/.test(c))).toHaveLength(1)
    expect(calls.filter((c) => /^PUT .*partNumber=/.test(c))).toHaveLength(3)
    expect(calls.filter((c) => /^POST .*uploadId=ID/.test(c))).toHaveLength(1)
    const hash = createHash('sha256')
    let size = 0
    for await (const chunk of dest.get('big/20mb.bin')) {
      hash.update(chunk)
      size += chunk.byteLength
    }
    expect(size).toBe(20 * 1024 * 1024)
    expect(hash.digest('hex')).toBe(sent.hex)
    expect(await dest.list('big/')).toEqual([{ key: 'big/20mb.bin', size: 20 * 1024 * 1024 }])
  })

  it('fails a put whose source fails mid-stream with the source’s error, and leaves no object or parts', async () => {
    async function* dies() {
      for (let i = 0; i < 10; i++) yield Buffer.alloc(1024 * 1024, i)
      throw new Error('pg_dump exited with 1: connection lost')
    }
    const before = s3.requests.length
    const error = await failure(dest.put('broken/half.dump', dies()))
    expect(error.message).toBe('pg_dump exited with 1: connection lost')
    expect(await dest.list('broken/')).toEqual([])
    // The first part had gone up as a multipart upload: its abort was sent (s3rver answers it with a
    // 405, which must not hide the source's error; S3 and MinIO drop the parts).
    const calls = s3.requests.slice(before).map((r) => `${r.method} ${r.url.replace(/uploadId=[^&]+/, 'uploadId=ID')}`)
    expect(calls.filter((c) => /^PUT .*partNumber=1/.test(c))).toHaveLength(1)
    expect(calls.filter((c) => /^DELETE .*uploadId=ID/.test(c))).toHaveLength(1)
  })

  // s3rver checks the access key id of a SigV4 request, not the signature itself (unimplemented there).
  it('signs with the configured access key: an unknown one is refused by the store', async () => {
    const wrong = s3Destination({ outbound }, config({ accessKeyId: 'NOT-A-KEY' }))
    const error = await failure(wrong.list(''))
    expect(error.name).toBe('InvalidAccessKeyId')
  })

  it('passes the store’s error for a bucket that does not exist', async () => {
    const error = await failure(s3Destination({ outbound }, config({ bucket: 'no-such-bucket' })).list(''))
    expect(error.name).toBe('NoSuchBucket')
  })

  it('is refused by the outbound policy before any connection when the endpoint is not allow-listed', async () => {
    const closed = s3Destination({ outbound: createOutboundPolicy({ OUTBOUND_ALLOW: [] }) }, config())
    const before = { requests: s3.requests.length, connections: s3.connections() }
    const errors: Error[] = []
    const connects = await connectsDuring(async () => {
      errors.push(await failure(closed.put('x', bytes('secret backup'))))
      errors.push(await failure(collect(closed.get('x'))))
      errors.push(await failure(closed.list('')))
      errors.push(await failure(closed.remove('x')))
    })
    expect(connects).toBe(0)
    for (const error of errors) {
      expect(error).toBeInstanceOf(OutboundError)
      expect((error as OutboundError).reason).toBe('refused')
    }
    expect(s3.requests.length).toBe(before.requests)
    expect(s3.connections()).toBe(before.connections)
  })
})
