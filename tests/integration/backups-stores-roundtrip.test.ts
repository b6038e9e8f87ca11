/**
 * The guarded stores composed as the backup jobs compose them: a source's stream put into the S3
 * destination, then read back from it into the source's restore. Real tar, s3rver and the Qdrant
 * stand-in, all on 127.0.0.1.
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { createOutboundPolicy, parseOutboundAllow } from '../../app/lib/outbound.ts'
import { backupCommands, commandSource, qdrantSource, s3Destination } from '../../app/modules/backups/index.ts'
import { startFakeQdrant } from '../helpers/fake-qdrant.ts'
import { startS3 } from '../helpers/s3-server.ts'

const dir = mkdtempSync(join(tmpdir(), 'backup-roundtrip-'))
const s3 = await startS3(['backups'])
const qdrant = await startFakeQdrant()
afterAll(async () => {
  await s3.close()
  await qdrant.close()
  rmSync(dir, { recursive: true, force: true })
})
const outbound = createOutboundPolicy({ OUTBOUND_ALLOW: parseOutboundAllow('127.0.0.1') })
const dest = s3Destination(
  { outbound },
  {
    endpoint: s3.endpoint,
    region: 'us-east-1',
    bucket: 'backups',
    prefix: 'roundtrip/',
    accessKeyId: s3.accessKeyId,
    secretAccessKey: s3.secretAccessKey,
    forcePathStyle: true,
  },
)
const signal = () => new AbortController().signal

describe('guarded stores, source → S3 → restore', () => {
  it('a folder: tar into S3 (multipart), and back out of S3 into tar -x', async () => {
    const folder = join(dir, 'uploads')
    const restored = join(dir, 'restored')
    mkdirSync(folder)
    mkdirSync(restored)
    writeFileSync(join(folder, 'notes.txt'), 'keep me\n')
    writeFileSync(join(folder, 'image.bin'), Buffer.alloc(12 * 1024 * 1024, 0xab))
    const file = join(dir, 'commands.json')
    writeFileSync(
      file,
      JSON.stringify({
        commands: {
          uploads: {
            argv: ['tar', '-C', folder, '-cf', '-', '.'],
            restore: { argv: ['tar', '-C', restored, '-xf', '-'] },
          },
        },
      }),
    )
    const source = commandSource(backupCommands(file), { command: 'uploads' })
    const { size } = await dest.put('command/uploads/1.tar', source.produce(signal()))
    expect(size).toBeGreaterThan(12 * 1024 * 1024)
    expect(await dest.list('command/uploads/')).toEqual([{ key: 'command/uploads/1.tar', size }])
    await source.restore!(dest.get('command/uploads/1.tar'), signal())
    expect(readFileSync(join(restored, 'notes.txt'), 'utf8')).toBe('keep me\n')
    expect(readFileSync(join(restored, 'image.bin')).equals(Buffer.alloc(12 * 1024 * 1024, 0xab))).toBe(true)
  })

  it('a Qdrant collection: snapshot into S3, and uploaded back from S3 into another collection', async () => {
    const data = Buffer.concat([Buffer.from('QDSNP'), Buffer.alloc(6 * 1024 * 1024, 0x5a)])
    qdrant.collections.set('docs', data)
    const config = { url: qdrant.url, collection: 'docs', createTimeoutMs: 30_000, keepOnServer: false }
    expect(await dest.put('qdrant/docs/1.snapshot', qdrantSource({ outbound }, config).produce(signal()))).toEqual({
      size: data.length,
    })
    await qdrantSource({ outbound }, { ...config, collection: 'docs-restored' }).restore!(
      dest.get('qdrant/docs/1.snapshot'),
      signal(),
    )
    expect(qdrant.collections.get('docs-restored')!.equals(data)).toBe(true)
  })
})
