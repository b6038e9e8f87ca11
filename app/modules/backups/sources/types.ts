/** What a backup is made from. */
export type BackupSource = {
  kind: 'homeostat' | 'qdrant' | 'command'
  /** Streams the backup's bytes (not buffered whole). */
  produce(signal: AbortSignal): AsyncIterable<Uint8Array>
  /** Puts a backup's bytes back (restore), where the kind supports it. */
  restore?(body: AsyncIterable<Uint8Array>, signal: AbortSignal): Promise<void>
}
