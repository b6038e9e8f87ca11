/**
 * Run by stores-runtimes.test.ts under Node, Bun and Deno: the guarded stores (S3 destination,
 * Qdrant source, command source) doing real work, printing one JSON line of results. The S3 server
 * (s3rver) runs in the test's process, at S3_ENDPOINT; the Qdrant stand-in runs here. Loopback only.
 */
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { createOutboundPolicy, parseOutboundAllow } from '../../app/lib/outbound.ts'
// The stores' own files, not the module's index: that one also loads the routes and the database
// driver (native under Deno), which this check does not need.
import { s3Destination } from '../../app/modules/backups/destinations/s3.ts'
import { backupCommands, commandSource } from '../../app/modules/backups/sources/command.ts'
import { qdrantSource } from '../../app/modules/backups/sources/qdrant.ts'
import { startFakeQdrant } from '../helpers/fake-qdrant.ts'

const endpoint = process.env.S3_ENDPOINT!
const dir = process.env.SCRATCH_DIR!
const open = createOutboundPolicy({ OUTBOUND_ALLOW: parseOutboundAllow('127.0.0.1') })
const closed = createOutboundPolicy({ OUTBOUND_ALLOW: [] })
const signal = () => new AbortController().signal
const s3 = (outbound: typeof open) =>
  s3Destination(
    { outbound },
    {
      endpoint,
      region: 'us-east-1',
      bucket: 'backups',
      prefix: 'rt/',
      accessKeyId: 'S3RVER',
      secretAccessKey: 'S3RVER',
      forcePathStyle: true,
    },
  )

async function* blocks(count: number, size: number) {
  for (let i = 0; i < count; i++) yield new Uint8Array(size).fill(i)
}
async function bytes(body: AsyncIterable<Uint8Array>) {
  let n = 0
  for await (const c of body) n += c.byteLength
  return n
}
async function reason(work: Promise<unknown>) {
  try {
    await work
    return 'none'
  } catch (error) {
    return (error as { reason?: string }).reason ?? (error as Error).message
  }
}

const result: Record<string, unknown> = {}
const dest = s3(open)
result.s3Put = await dest.put('x.bin', blocks(10, 1024 * 1024))
result.s3Get = await bytes(dest.get('x.bin'))
result.s3List = await dest.list('')
await dest.remove('x.bin')
result.s3AfterRemove = await dest.list('')
result.s3Refused = await reason(s3(closed).list(''))

const qdrant = await startFakeQdrant({ apiKey: 'k' })
const data = new Uint8Array(2_000_000).fill(3)
data.set(new TextEncoder().encode('QDSNP'))
qdrant.collections.set('docs', Buffer.from(data))
const config = { url: qdrant.url, collection: 'docs', apiKey: 'k', createTimeoutMs: 30_000, keepOnServer: false }
const chunks: Uint8Array[] = []
for await (const c of qdrantSource({ outbound: open }, config).produce(signal())) chunks.push(c)
const snapshot = Buffer.concat(chunks)
result.qdrantProduced = snapshot.equals(Buffer.from(data))
await qdrantSource({ outbound: open }, { ...config, collection: 'copy' }).restore!(
  (async function* () {
    yield snapshot
  })(),
  signal(),
)
result.qdrantRestored = qdrant.collections.get('copy')?.equals(Buffer.from(data)) ?? false
result.qdrantRefused = await reason(bytes(qdrantSource({ outbound: closed }, config).produce(signal())))
await qdrant.close()

const file = join(dir, 'commands.json')
writeFileSync(file, JSON.stringify({ commands: { zeros: { argv: ['head', '-c', '3000000', '/dev/zero'] } } }))
result.commandBytes = await bytes(commandSource(backupCommands(file), { command: 'zeros' }).produce(signal()))
result.commandRefused = await reason(bytes(commandSource(backupCommands(file), { command: 'rm' }).produce(signal())))

console.log(JSON.stringify(result))
