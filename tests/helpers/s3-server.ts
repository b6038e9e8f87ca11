import { mkdtempSync, rmSync } from 'node:fs'
import type { Server } from 'node:http'
import { createRequire } from 'node:module'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

type S3rverInstance = { run(): Promise<AddressInfo>; close(): Promise<void>; httpServer: Server }
type S3rverOptions = {
  address: string
  port: number
  silent: boolean
  directory: string
  configureBuckets: { name: string }[]
}
// s3rver ships no types: the few members used here, typed once.
const S3rver = createRequire(import.meta.url)('s3rver') as new (options: S3rverOptions) => S3rverInstance

/**
 * A real S3-protocol server (`s3rver`) on 127.0.0.1 with its objects in a temp folder. It knows
 * the access key `S3RVER` (secret `S3RVER`) and refuses others; it does not verify SigV4 signatures
 * themselves (s3rver 3.7 leaves that unimplemented). Every request and connection
 * is recorded, so tests can tell a multipart upload from a single put, and a refused call from a sent one.
 */
export async function startS3(buckets: string[] = ['backups']) {
  const directory = mkdtempSync(join(tmpdir(), 's3rver-'))
  const server = new S3rver({
    address: '127.0.0.1',
    port: 0,
    silent: true,
    directory,
    configureBuckets: buckets.map((name) => ({ name })),
  })
  const address = await server.run()
  const requests: { method: string; url: string }[] = []
  let connections = 0
  server.httpServer.prependListener('request', (req) => requests.push({ method: req.method ?? '', url: req.url ?? '' }))
  server.httpServer.on('connection', () => connections++)
  return {
    endpoint: `http://127.0.0.1:${address.port}`,
    accessKeyId: 'S3RVER',
    secretAccessKey: 'S3RVER',
    requests,
    connections: () => connections,
    async close() {
      server.httpServer.closeAllConnections()
      await server.close()
      rmSync(directory, { recursive: true, force: true })
    },
  }
}
