/**
 * The guarded stores' figures (`BENCH_ONLY=stores`), in this process (no Homeostat server: the
 * sources and destinations are library code the backup jobs call):
 *
 * - Command source: STORES_COMMAND_MB (default 256) MB from `head -c … /dev/zero` read through
 *   `commandSource` (allow-list file, timeout, stderr capture) against the same command spawned and
 *   read bare; and the RSS growth while it streams (target: far below the stream's size).
 * - S3 destination: STORES_S3_MB (default 64) MB put and read back through `s3Destination`, whose
 *   SDK requests go through the outbound helper, against the same SDK with its default HTTP handler
 *   (no policy), both to s3rver on 127.0.0.1 (s3rver writes to disk: it bounds both sides alike).
 * - Qdrant source: STORES_QDRANT_MB (default 64) MB snapshot downloaded through `qdrantSource`
 *   (outbound helper, sha256 check) against a bare `http.get` of the same snapshot from the stand-in.
 *
 * Rounds are interleaved (BENCH_ROUNDS, default 3): each figure and its baseline run seconds apart,
 * and a ratio is the median of per-round ratios. Asserts nothing; a miss prints MISS.
 */
import { spawn } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { get } from 'node:http'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Readable } from 'node:stream'
import { GetObjectCommand, S3Client } from '@aws-sdk/client-s3'
import { Upload } from '@aws-sdk/lib-storage'
import { createOutboundPolicy, parseOutboundAllow } from '../../app/lib/outbound.ts'
import { backupCommands, commandSource, qdrantSource, s3Destination } from '../../app/modules/backups/index.ts'
import { startFakeQdrant } from '../helpers/fake-qdrant.ts'
import { startS3 } from '../helpers/s3-server.ts'
import { median } from './lib.ts'
import { fmt, verdict } from './lib.ts'

const ROUNDS = Math.max(1, Number(process.env.BENCH_ROUNDS ?? 3))
const COMMAND_MB = Number(process.env.STORES_COMMAND_MB ?? 256)
const S3_MB = Number(process.env.STORES_S3_MB ?? 64)
const QDRANT_MB = Number(process.env.STORES_QDRANT_MB ?? 64)
const MB = 1024 * 1024

export const COMMAND_MIN_RATIO = 0.8
export const COMMAND_RSS_MAX_MB = 64
export const S3_MIN_RATIO = 0.8
export const QDRANT_MIN_RATIO = 0.8

async function timed(work: () => Promise<number>): Promise<number> {
  const started = performance.now()
  const bytes = await work()
  return bytes / MB / ((performance.now() - started) / 1000)
}

async function drain(body: AsyncIterable<Uint8Array>): Promise<number> {
  let size = 0
  for await (const chunk of body) size += chunk.byteLength
  return size
}

async function* sized(mb: number) {
  const block = randomBytes(MB)
  for (let i = 0; i < mb; i++) yield block
}

type Pair = { ours: number[]; bare: number[] }
const pair = (): Pair => ({ ours: [], bare: [] })

function rowsFor(label: string, p: Pair, minRatio: number): string[][] {
  const ratio = median(p.ours.map((o, i) => o / p.bare[i]!))
  return [
    [`${label} (bare)`, `${fmt(median(p.bare))} MB/s`, '—', '', ''],
    [label, `${fmt(median(p.ours))} MB/s`, `≥ ${minRatio}× bare`, `${fmt(ratio, 2)}×`, verdict(ratio >= minRatio)],
  ]
}

export async function storeFigures(log: (line: string) => void): Promise<{ rows: string[][]; failed: string[] }> {
  const failed: string[] = []
  const rows: string[][] = []
  const dir = mkdtempSync(join(tmpdir(), 'bench-stores-'))
  const outbound = createOutboundPolicy({ OUTBOUND_ALLOW: parseOutboundAllow('127.0.0.1') })
  const s3 = await startS3(['bench'])
  const qdrant = await startFakeQdrant()
  try {
    const commandsFile = join(dir, 'commands.json')
    const argv = ['head', '-c', String(COMMAND_MB * MB), '/dev/zero']
    writeFileSync(commandsFile, JSON.stringify({ commands: { zeros: { argv, timeoutMs: 600_000 } } }))
    const source = commandSource(backupCommands(commandsFile), { command: 'zeros' })
    const s3Config = {
      endpoint: s3.endpoint,
      region: 'us-east-1',
      bucket: 'bench',
      prefix: '',
      accessKeyId: s3.accessKeyId,
      secretAccessKey: s3.secretAccessKey,
      forcePathStyle: true,
    }
    const dest = s3Destination({ outbound }, s3Config)
    const bareClient = new S3Client({
      endpoint: s3.endpoint,
      region: 'us-east-1',
      forcePathStyle: true,
      credentials: { accessKeyId: s3.accessKeyId, secretAccessKey: s3.secretAccessKey },
      requestChecksumCalculation: 'WHEN_REQUIRED',
      responseChecksumValidation: 'WHEN_REQUIRED',
    })
    qdrant.collections.set('bench', Buffer.concat([Buffer.from('QDSNP'), randomBytes(QDRANT_MB * MB)]))
    const snapshotSource = qdrantSource(
      { outbound },
      { url: qdrant.url, collection: 'bench', createTimeoutMs: 60_000, keepOnServer: true },
    )

    // Warm-up, and the snapshot the bare download reads (kept on the stand-in).
    await drain(snapshotSource.produce(new AbortController().signal))
    const snapshot = [...qdrant.snapshots.keys()][0]!
    const command = pair()
    const put = pair()
    const getS3 = pair()
    const download = pair()
    let rssGrowth = 0
    for (let round = 0; round < ROUNDS; round++) {
      command.bare.push(
        await timed(async () => {
          const child = spawn(argv[0]!, argv.slice(1), { stdio: ['ignore', 'pipe', 'ignore'] })
          return drain(child.stdout)
        }),
      )
      const rssBefore = process.memoryUsage().rss
      let peak = rssBefore
      command.ours.push(
        await timed(async () => {
          let size = 0
          for await (const chunk of source.produce(new AbortController().signal)) {
            size += chunk.byteLength
            if ((size & (16 * MB - 1)) < chunk.byteLength) peak = Math.max(peak, process.memoryUsage().rss)
          }
          return size
        }),
      )
      rssGrowth = Math.max(rssGrowth, (peak - rssBefore) / MB)

      put.bare.push(
        await timed(async () => {
          const upload = new Upload({
            client: bareClient,
            params: { Bucket: 'bench', Key: `bare-${round}`, Body: Readable.from(sized(S3_MB)) },
            partSize: 8 * MB,
            queueSize: 2,
          })
          await upload.done()
          return S3_MB * MB
        }),
      )
      put.ours.push(await timed(async () => (await dest.put(`ours-${round}`, sized(S3_MB))).size))
      getS3.bare.push(
        await timed(async () => {
          const res = await bareClient.send(new GetObjectCommand({ Bucket: 'bench', Key: `bare-${round}` }))
          return drain(res.Body as AsyncIterable<Uint8Array>)
        }),
      )
      getS3.ours.push(await timed(() => drain(dest.get(`ours-${round}`))))

      download.bare.push(
        await timed(
          () =>
            new Promise<number>((resolve, reject) => {
              const url = `${qdrant.url}/collections/bench/snapshots/${encodeURIComponent(snapshot)}`
              get(url, (res) => drain(res).then(resolve, reject)).on('error', reject)
            }),
        ),
      )
      download.ours.push(await timed(() => drain(snapshotSource.produce(new AbortController().signal))))
      log(`stores: round ${round + 1}/${ROUNDS} done`)
    }
    rows.push(...rowsFor(`Command source, ${COMMAND_MB} MB stdout`, command, COMMAND_MIN_RATIO))
    rows.push([
      'Command source RSS growth while streaming',
      `${fmt(rssGrowth, 1)} MB`,
      `< ${COMMAND_RSS_MAX_MB} MB`,
      '',
      verdict(rssGrowth < COMMAND_RSS_MAX_MB),
    ])
    rows.push(...rowsFor(`S3 put ${S3_MB} MB via outbound helper`, put, S3_MIN_RATIO))
    rows.push(...rowsFor(`S3 get ${S3_MB} MB via outbound helper`, getS3, S3_MIN_RATIO))
    rows.push(...rowsFor(`Qdrant snapshot ${QDRANT_MB} MB download`, download, QDRANT_MIN_RATIO))
    bareClient.destroy()
  } catch (error) {
    failed.push(`stores: ${error instanceof Error ? error.message : String(error)}`)
  } finally {
    await s3.close()
    await qdrant.close()
    rmSync(dir, { recursive: true, force: true })
  }
  return { rows, failed }
}
