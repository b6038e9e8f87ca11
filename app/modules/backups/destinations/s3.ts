/**
 * Backups kept in S3-compatible object storage (AWS S3, MinIO, Cloudflare R2, Backblaze B2,
 * Garage…) with `@aws-sdk/client-s3`. The SDK makes its own HTTP calls; here they all go through
 * `policyHandler`, which sends each one with the outbound helper: the endpoint the user configured
 * is resolved and judged by OUTBOUND_ALLOW before any connection, and the socket goes to the
 * address that was checked. Uploads stream in 8 MiB parts (multipart above one part), so memory
 * stays bounded whatever the backup's size; downloads stream.
 */
import { Readable } from 'node:stream'
import {
  DeleteObjectCommand,
  GetObjectCommand,
  type GetObjectCommandOutput,
  ListObjectsV2Command,
  S3Client,
  type S3ClientConfig,
} from '@aws-sdk/client-s3'
import { Upload } from '@aws-sdk/lib-storage'
import * as v from 'valibot'
import type { OutboundPolicy } from '../../../lib/outbound.ts'
import { outboundStream } from '../../../lib/outbound-stream.ts'
import { StoreUrl } from '../url.ts'
import type { BackupDestination } from './types.ts'

/**
 * A target's S3 destination. `secretAccessKey` is sealed at rest by the targets' store and given
 * here opened; it is never logged or answered back.
 */
export const S3DestinationConfig = v.strictObject({
  endpoint: StoreUrl,
  region: v.optional(
    v.pipe(v.string(), v.regex(/^[a-z0-9-]{1,50}$/, 'must be a region name such as us-east-1')),
    'us-east-1',
  ),
  bucket: v.pipe(v.string(), v.regex(/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/, 'must be an S3 bucket name')),
  /** Put before every key, e.g. `homeostat/`. */
  prefix: v.optional(v.pipe(v.string(), v.maxLength(512)), ''),
  accessKeyId: v.pipe(v.string(), v.minLength(1, 'must not be empty'), v.maxLength(256)),
  secretAccessKey: v.pipe(v.string(), v.minLength(1, 'must not be empty'), v.maxLength(1024)),
  /** `https://endpoint/bucket/key` rather than `https://bucket.endpoint/key`: MinIO and most self-hosted stores need it. */
  forcePathStyle: v.optional(v.boolean(), false),
})
export type S3DestinationConfig = v.InferOutput<typeof S3DestinationConfig>

/** Bytes per uploaded part; S3 wants at least 5 MiB. Memory held by an upload is about this times `QUEUE`. */
const PART_SIZE = 8 * 1024 * 1024
const QUEUE = 2

/** The parts of the SDK's signed request the handler reads (Smithy's HttpRequest). */
type SdkRequest = {
  method: string
  protocol: string
  hostname: string
  port?: number
  path: string
  query?: Record<string, string | string[] | null | undefined>
  headers: Record<string, string>
  body?: unknown
}

/** RFC 3986 escaping, as the SDK signs the query string. */
const escape = (s: string) =>
  encodeURIComponent(s).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`)

function queryString(query: SdkRequest['query']): string {
  const parts: string[] = []
  for (const [key, value] of Object.entries(query ?? {})) {
    if (value === null || value === undefined) parts.push(escape(key))
    else for (const item of Array.isArray(value) ? value : [value]) parts.push(`${escape(key)}=${escape(item)}`)
  }
  return parts.length ? `?${parts.join('&')}` : ''
}

function requestUrl(request: SdkRequest): string {
  const host =
    request.hostname.includes(':') && !request.hostname.startsWith('[') ? `[${request.hostname}]` : request.hostname
  const port = request.port ? `:${request.port}` : ''
  return `${request.protocol}//${host}${port}${request.path}${queryString(request.query)}`
}

/**
 * The SDK's HTTP layer, replaced by the outbound helper: every request the SDK signs is sent by
 * `outboundStream`, so it is refused before any connection when the policy refuses its host, and
 * its body and answer stream.
 */
export function policyHandler(outbound: OutboundPolicy): NonNullable<S3ClientConfig['requestHandler']> {
  return {
    async handle(request: SdkRequest, options?: { abortSignal?: unknown }) {
      const body = request.body
      const res = await outboundStream(outbound, requestUrl(request), {
        method: request.method,
        headers: request.headers,
        body:
          body === undefined || body === null
            ? undefined
            : typeof body === 'string'
              ? new TextEncoder().encode(body)
              : (body as Uint8Array | AsyncIterable<Uint8Array>),
        signal: options?.abortSignal as AbortSignal | undefined,
      })
      const headers: Record<string, string> = {}
      res.headers.forEach((value, name) => {
        headers[name] = value
      })
      return { response: { statusCode: res.status, reason: res.statusText, headers, body: res.body } }
    },
    updateHttpClientConfig() {},
    httpHandlerConfigs: () => ({}),
  }
}

/** Counts the bytes as they pass, and keeps the source's own error (see `put`). */
async function* counted(body: AsyncIterable<Uint8Array>, total: { size: number; error?: unknown }) {
  try {
    for await (const chunk of body) {
      total.size += chunk.byteLength
      yield chunk
    }
  } catch (error) {
    total.error = error
    throw error
  }
}

/** The S3 destination of a target. Keys are relative to `config.prefix` both ways. */
export function s3Destination(deps: { outbound: OutboundPolicy }, config: S3DestinationConfig): BackupDestination {
  const client = new S3Client({
    endpoint: config.endpoint,
    region: config.region,
    forcePathStyle: config.forcePathStyle,
    // Given outright: the SDK's default chain would otherwise look for keys in the environment,
    // files and the instance metadata service, none of which belongs to this target.
    credentials: { accessKeyId: config.accessKeyId, secretAccessKey: config.secretAccessKey },
    requestHandler: policyHandler(deps.outbound),
    // Checksums only where S3 requires them: many S3-compatible stores refuse the newer trailers.
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
    maxAttempts: 3,
  })
  const full = (key: string) => `${config.prefix}${key}`
  const Bucket = config.bucket

  return {
    kind: 's3',
    async put(key, body) {
      const total: { size: number; error?: unknown } = { size: 0 }
      const upload = new Upload({
        client,
        params: { Bucket, Key: full(key), Body: Readable.from(counted(body, total), { objectMode: false }) },
        partSize: PART_SIZE,
        queueSize: QUEUE,
        // A failed multipart upload is aborted, so no invisible parts stay billed in the bucket.
        leavePartsOnError: false,
      })
      try {
        await upload.done()
      } catch (error) {
        // When the source failed (a command died mid-stream), that is the cause to report, even
        // if aborting the multipart upload then failed too and the SDK threw that instead.
        throw total.error ?? error
      }
      return { size: total.size }
    },
    async *get(key) {
      let res: GetObjectCommandOutput
      try {
        res = await client.send(new GetObjectCommand({ Bucket, Key: full(key) }))
      } catch (error) {
        if ((error as Error).name === 'NoSuchKey') throw new Error(`no backup ${key} in bucket ${Bucket}`)
        throw error
      }
      if (!res.Body) throw new Error(`no body for backup ${key} in bucket ${Bucket}`)
      for await (const chunk of res.Body as AsyncIterable<Uint8Array>) yield chunk
    },
    async remove(key) {
      await client.send(new DeleteObjectCommand({ Bucket, Key: full(key) }))
    },
    async list(prefix) {
      const out: { key: string; size: number }[] = []
      let token: string | undefined
      do {
        const page = await client.send(
          new ListObjectsV2Command({ Bucket, Prefix: full(prefix), ContinuationToken: token }),
        )
        for (const o of page.Contents ?? []) {
          if (o.Key?.startsWith(config.prefix)) out.push({ key: o.Key.slice(config.prefix.length), size: o.Size ?? 0 })
        }
        token = page.IsTruncated ? page.NextContinuationToken : undefined
      } while (token)
      return out
    },
  }
}
