/**
 * The `qdrant` backup source against a local stand-in speaking Qdrant's snapshot endpoints on
 * 127.0.0.1 (Qdrant itself cannot be installed here). Every call goes through the outbound policy:
 * with loopback not allow-listed, nothing connects.
 */
import { randomBytes } from 'node:crypto'
import { afterAll, describe, expect, it } from 'vitest'
import { createOutboundPolicy, OutboundError, parseOutboundAllow } from '../../app/lib/outbound.ts'
import { qdrantSource } from '../../app/modules/backups/index.ts'
import { connectsDuring } from '../helpers/connections.ts'
import { startFakeQdrant } from '../helpers/fake-qdrant.ts'
import { collect, failure, replay } from '../helpers/streams.ts'

const qdrant = await startFakeQdrant({ apiKey: 'qdrant-secret' })
afterAll(() => qdrant.close())
const outbound = createOutboundPolicy({ OUTBOUND_ALLOW: parseOutboundAllow('127.0.0.1') })
const config = (over: Partial<Parameters<typeof qdrantSource>[1]> = {}) => ({
  url: `${qdrant.url}/`,
  collection: 'docs',
  apiKey: 'qdrant-secret',
  createTimeoutMs: 30_000,
  keepOnServer: false,
  ...over,
})
const signal = () => new AbortController().signal

/** A snapshot file's bytes as the stand-in checks them (a magic prefix, then the collection's data). */
const snapshotBytes = (size: number) => Buffer.concat([Buffer.from('QDSNP'), randomBytes(size)])

describe('qdrant backup source', () => {
  it('creates a snapshot, streams it down with the api-key, and drops it from Qdrant afterwards', async () => {
    const data = snapshotBytes(3 * 1024 * 1024)
    qdrant.collections.set('docs', data)
    const before = qdrant.requests.length
    const source = qdrantSource({ outbound }, config())
    expect(source.kind).toBe('qdrant')
    const got = await collect(source.produce(signal()))
    expect(got.equals(data)).toBe(true)
    const calls = qdrant.requests.slice(before)
    expect(calls.map((r) => `${r.method} ${r.path.replace(/docs-\d+-[^/]+\.snapshot$/, 'NAME')}?${r.query}`)).toEqual([
      'POST /collections/docs/snapshots?wait=true',
      'GET /collections/docs/snapshots/NAME?',
      'DELETE /collections/docs/snapshots/NAME?wait=true',
    ])
    expect(calls.every((r) => r.apiKey === 'qdrant-secret')).toBe(true)
    expect(qdrant.snapshots.size).toBe(0)
  })

  it('drops Qdrant’s copy also when the reader stops early', async () => {
    qdrant.collections.set('early', snapshotBytes(2 * 1024 * 1024))
    for await (const chunk of qdrantSource({ outbound }, config({ collection: 'early' })).produce(signal())) {
      expect(chunk.byteLength).toBeGreaterThan(0)
      break
    }
    expect([...qdrant.snapshots.values()].filter((s) => s.collection === 'early')).toHaveLength(0)
  })

  it('keeps Qdrant’s copy when asked to', async () => {
    qdrant.collections.set('kept', snapshotBytes(1000))
    await collect(qdrantSource({ outbound }, config({ collection: 'kept', keepOnServer: true })).produce(signal()))
    expect([...qdrant.snapshots.values()].filter((s) => s.collection === 'kept')).toHaveLength(1)
  })

  it('restores by uploading the snapshot as multipart with priority=snapshot', async () => {
    const data = snapshotBytes(2 * 1024 * 1024)
    qdrant.collections.set('restored', snapshotBytes(10))
    const before = qdrant.requests.length
    await qdrantSource({ outbound }, config({ collection: 'restored' })).restore!(replay(data, 100_000), signal())
    expect(qdrant.collections.get('restored')!.equals(data)).toBe(true)
    expect(qdrant.requests.slice(before).map((r) => `${r.method} ${r.path}?${r.query}`)).toEqual([
      'POST /collections/restored/snapshots/upload?priority=snapshot&wait=true',
    ])
    expect(qdrant.uploads.at(-1)).toMatchObject({ filename: 'restored.snapshot' })
    expect(qdrant.uploads.at(-1)!.contentType).toMatch(/^multipart\/form-data; boundary=homeostat-/)
  })

  it('round-trips: a backup restored into a new collection gives the same snapshot back', async () => {
    const data = snapshotBytes(500_000)
    qdrant.collections.set('origin', data)
    const backup = await collect(qdrantSource({ outbound }, config({ collection: 'origin' })).produce(signal()))
    await qdrantSource({ outbound }, config({ collection: 'copy' })).restore!(replay(backup, 100_000), signal())
    const again = await collect(qdrantSource({ outbound }, config({ collection: 'copy' })).produce(signal()))
    expect(again.equals(data)).toBe(true)
  })

  it('says so when Qdrant refuses the API key', async () => {
    const error = await failure(collect(qdrantSource({ outbound }, config({ apiKey: 'wrong' })).produce(signal())))
    expect(error.message).toBe('Qdrant refused the API key (403) on create snapshot')
    const none = await failure(collect(qdrantSource({ outbound }, config({ apiKey: undefined })).produce(signal())))
    expect(none.message).toBe('Qdrant refused the API key (401) on create snapshot')
  })

  it('names a collection Qdrant does not have, with Qdrant’s words', async () => {
    const error = await failure(collect(qdrantSource({ outbound }, config({ collection: 'ghost' })).produce(signal())))
    expect(error.message).toBe(
      "Qdrant has no collection ghost (404 on create snapshot): Not found: Collection `ghost` doesn't exist!",
    )
  })

  it('fails a download whose bytes do not match the checksum Qdrant stated, and still drops the snapshot', async () => {
    qdrant.collections.set('docs', snapshotBytes(100_000))
    qdrant.tamper((data) => Buffer.concat([data.subarray(0, 1000), Buffer.from('x'), data.subarray(1001)]))
    try {
      const error = await failure(collect(qdrantSource({ outbound }, config()).produce(signal())))
      expect(error.message).toMatch(
        /^snapshot docs-\d+-.*\.snapshot arrived with sha256 [0-9a-f]{64}, Qdrant stated [0-9a-f]{64}$/,
      )
      expect([...qdrant.snapshots.values()].filter((s) => s.collection === 'docs')).toHaveLength(0)
    } finally {
      qdrant.tamper(undefined)
    }
  })

  it('fails a restore Qdrant rejects, with Qdrant’s words', async () => {
    const error = await failure(
      qdrantSource({ outbound }, config({ collection: 'restored' })).restore!(
        replay(Buffer.from('not a snapshot'), 100_000),
        signal(),
      ),
    )
    expect(error.message).toBe('Qdrant answered 400 on upload snapshot: Wrong input: the file is not a snapshot')
  })

  it('is refused by the outbound policy before any connection when Qdrant’s address is not allow-listed', async () => {
    const closed = createOutboundPolicy({ OUTBOUND_ALLOW: [] })
    const before = { requests: qdrant.requests.length, connections: qdrant.connections() }
    let produced: unknown
    let restored: unknown
    const connects = await connectsDuring(async () => {
      produced = await failure(collect(qdrantSource({ outbound: closed }, config()).produce(signal())))
      restored = await failure(
        qdrantSource({ outbound: closed }, config()).restore!(replay(snapshotBytes(10), 100_000), signal()),
      )
    })
    expect(connects).toBe(0)
    for (const error of [produced, restored]) {
      expect(error).toBeInstanceOf(OutboundError)
      expect((error as OutboundError).reason).toBe('refused')
    }
    expect(qdrant.requests.length).toBe(before.requests)
    expect(qdrant.connections()).toBe(before.connections)
  })
})
