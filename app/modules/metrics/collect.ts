import { type MetricStore, sampleCount } from './store.ts'

/**
 * Samples written between two full collections of the heap (ADR 0026). The write paths allocate
 * several objects a sample (parsed JSON or decoded protobuf, labels, keys), and the runtime lets its
 * heap grow to twice what survived its last full collection before it collects again: under a steady
 * ingest that growth, not a working set, is most of the process's memory.
 */
export const COLLECT_EVERY_SAMPLES = 100_000

/**
 * The store, with `collect` (the runtime's full collection, from the composition root) run after
 * every `every` samples written. Only ingest pays for it: the alert intake, whose collector is a
 * large part of its CPU (ADR 0006), keeps the runtime's own schedule.
 */
export function collectingEvery(store: MetricStore, collect: () => void, every = COLLECT_EVERY_SAMPLES): MetricStore {
  let written = 0
  return {
    ...store,
    write: async (samples, now) => {
      const result = await store.write(samples, now)
      written += sampleCount(samples)
      if (written >= every) {
        written = 0
        collect()
      }
      return result
    },
  }
}
