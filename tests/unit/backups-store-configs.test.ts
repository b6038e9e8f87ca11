/**
 * The valibot schemas of the guarded stores' target configurations: what the targets API validates
 * with, so a bad value is answered with a 400 naming its field.
 */
import * as v from 'valibot'
import { describe, expect, it } from 'vitest'
import { CommandTargetConfig, QdrantTargetConfig, S3DestinationConfig } from '../../app/modules/backups/index.ts'

/** Each issue as `path: message`, as the API's 400 details name them. */
function issues(schema: v.GenericSchema, input: unknown): string[] {
  const r = v.safeParse(schema, input)
  return r.success ? [] : r.issues.map((i) => `${v.getDotPath(i) ?? '(root)'}: ${i.message}`)
}

describe('guarded stores configuration', () => {
  it('fills the defaults of a Qdrant target', () => {
    expect(v.parse(QdrantTargetConfig, { url: 'http://qdrant.internal:6333', collection: 'docs' })).toEqual({
      url: 'http://qdrant.internal:6333',
      collection: 'docs',
      createTimeoutMs: 600_000,
      keepOnServer: false,
    })
  })

  it('names the bad fields of a Qdrant target', () => {
    expect(issues(QdrantTargetConfig, { url: 'ftp://qdrant', collection: '', apiKey: '' })).toEqual([
      'url: must be an http(s) URL',
      'collection: must not be empty',
      'apiKey: must not be empty',
    ])
    expect(issues(QdrantTargetConfig, { url: 'http://q', collection: 'c', shell: 'rm -rf /' })[0]).toMatch(/^shell: /)
  })

  it('fills the defaults of an S3 destination', () => {
    expect(
      v.parse(S3DestinationConfig, {
        endpoint: 'https://s3.eu-west-1.amazonaws.com',
        bucket: 'team-backups',
        accessKeyId: 'AKIA…',
        secretAccessKey: 'secret',
      }),
    ).toMatchObject({ region: 'us-east-1', prefix: '', forcePathStyle: false })
  })

  it('names the bad fields of an S3 destination', () => {
    expect(
      issues(S3DestinationConfig, {
        endpoint: 'not a url',
        region: 'EU West',
        bucket: 'Bad_Bucket',
        accessKeyId: '',
        secretAccessKey: 'x',
      }),
    ).toEqual([
      'endpoint: must be an http(s) URL',
      'region: must be a region name such as us-east-1',
      'bucket: must be an S3 bucket name',
      'accessKeyId: must not be empty',
    ])
  })

  it('takes a command target by name only, never argv', () => {
    expect(v.parse(CommandTargetConfig, { command: 'app-postgres' })).toEqual({ command: 'app-postgres' })
    expect(issues(CommandTargetConfig, { command: 'pg_dump app | gzip' })).toEqual([
      'command: must be a command name from BACKUP_COMMANDS_FILE',
    ])
    expect(issues(CommandTargetConfig, { command: 'x', argv: ['sh', '-c', 'id'] })[0]).toMatch(/^argv: /)
  })
})
