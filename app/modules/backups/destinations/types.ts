/** Where the bytes go. */
export type BackupDestination = {
  kind: 'local' | 's3'
  put(key: string, body: AsyncIterable<Uint8Array>): Promise<{ size: number }>
  get(key: string): AsyncIterable<Uint8Array>
  remove(key: string): Promise<void>
  /** Keys under a prefix (for retention and the page). */
  list(prefix: string): Promise<{ key: string; size: number }[]>
}
