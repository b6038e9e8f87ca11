/**
 * Export: every stored version of every workflow of one instance as a tar stream, one JSON file per
 * version, in a layout that can be committed to git as it is:
 *   <instance>/<workflow-name>-<workflow-id>/<version, 4 digits>-<time>-<hash 12>.json
 * The version number leads the file name so a folder lists in history order. Rows are read a page
 * at a time, so memory stays flat however long the history is.
 */
import type { Db } from '../../../../db/client.ts'
import type { Sealer } from '../../../lib/crypto.ts'
import { exportPage, openContent } from './store.ts'
import { tarEnd, tarEntry } from './tar.ts'

const PAGE = 200

/** A file or folder name from user text: letters, digits, dot, dash and underscore; at most 60 characters. */
export const slug = (s: string) =>
  s
    .normalize('NFKD')
    .replace(/[^\w.-]+/g, '-')
    .replace(/^[-.]+|-+$/g, '')
    .slice(0, 60) || 'unnamed'

const stamp = (ms: number) =>
  new Date(ms)
    .toISOString()
    .replace(/[:]/g, '')
    .replace(/\.\d+Z$/, 'Z')

export function exportArchive(db: Db, sealer: Sealer, instance: { id: string; name: string }) {
  const enc = new TextEncoder()
  let after: string | undefined
  let done = false
  /** A workflow keeps the folder of its first exported name, so a rename does not split its history. */
  const folders = new Map<string, string>()
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      if (done) return
      const rows = await exportPage(db, instance.id, after, PAGE)
      for (const r of rows) {
        let folder = folders.get(r.workflowId)
        if (!folder) {
          folder = `${slug(instance.name)}/${slug(r.name)}-${slug(r.workflowId)}`
          folders.set(r.workflowId, folder)
        }
        const body = {
          instance: instance.name,
          workflowId: r.workflowId,
          version: r.seq,
          kind: r.kind,
          restoredVersion: r.restoredSeq,
          author: r.author,
          n8nVersionId: r.n8nVersionId,
          hash: r.hash,
          storedAt: new Date(r.createdAt).toISOString(),
          workflow: openContent(sealer, r),
        }
        const path = `${folder}/${String(r.seq).padStart(4, '0')}-${stamp(r.createdAt)}-${r.hash.slice(0, 12)}.json`
        for (const part of tarEntry(path, enc.encode(`${JSON.stringify(body, null, 2)}\n`), r.createdAt))
          controller.enqueue(part)
      }
      if (rows.length < PAGE) {
        controller.enqueue(tarEnd())
        controller.close()
        done = true
      } else after = rows.at(-1)!.id
    },
  })
}
