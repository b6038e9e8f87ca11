/** The status panel's data as JSON: the homeostat target up front, every target below. */
import { toIso } from '../../../lib/time.ts'
import { backupJson, restoreJson } from './json.ts'
import type { BackupsService } from './service.ts'

type Status = Awaited<ReturnType<BackupsService['status']>>

export const restoreEstimateSeconds = (s: Status) =>
  s.lastDrill?.durationMs != null ? Math.max(1, Math.round(s.lastDrill.durationMs / 1000)) : null

export function statusJson(s: Status) {
  const targets = s.targets.map((t) => ({
    id: t.target.id,
    name: t.target.name,
    kind: t.target.kind,
    enabled: t.target.enabled,
    schedule: t.target.schedule,
    lastGood: t.lastGood ? backupJson(t.lastGood) : null,
    nextDue: toIso(t.nextDue),
    storedBytes: t.storedBytes,
    goodCount: t.goodCount,
    retention: {
      keepLast: t.target.keepLast,
      daily: t.target.keepDaily,
      weekly: t.target.keepWeekly,
      monthly: t.target.keepMonthly,
    },
    running: t.running,
    missed: t.missed,
  }))
  const main = targets.find((t) => t.id === 'homeostat') ?? targets[0]
  return {
    lastGood: main?.lastGood ?? null,
    nextDue: main?.nextDue ?? null,
    size: main?.lastGood?.size ?? null,
    storedBytes: main?.storedBytes ?? 0,
    retention: main?.retention ?? null,
    restoreEstimateSeconds: restoreEstimateSeconds(s),
    lastDrill: s.lastDrill ? restoreJson(s.lastDrill) : null,
    encryption: s.encryption,
    restoring: s.restoring,
    targets,
  }
}
