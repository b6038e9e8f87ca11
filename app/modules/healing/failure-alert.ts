/**
 * A healing action that ends FAILED or ROLLED_BACK raises an alert (source `healing`) through the
 * alerts service, so it reaches people through the notification policies like any other; the
 * next SUCCESS of the same rule and target resolves it.
 */
import type { HealingAction } from '../../../db/schema/healing.ts'
import { sha256 } from '../../lib/crypto.ts'
import { actionUrl } from './notices.ts'
import type { HealingDeps } from './types.ts'

const fingerprintOf = (a: HealingAction) =>
  sha256(`healing\u0000${a.ruleId ?? 'manual'}\u0000${a.actionType}\u0000${a.target}`).slice(0, 32)
const labelsOf = (a: HealingAction) => ({
  alertname: 'HealingActionFailed',
  action_type: a.actionType,
  target: a.target,
  ...(a.ruleId ? { healing_rule: a.ruleId } : {}),
})

export async function raiseFailure(deps: HealingDeps, a: HealingAction, at: number) {
  try {
    await deps.alerts.report(
      {
        fingerprint: fingerprintOf(a),
        source: 'healing',
        state: 'firing',
        severity: 'error',
        title: `Healing ${a.status === 'ROLLED_BACK' ? 'rolled back' : 'failed'}: ${a.actionType} on ${a.target}`,
        labels: labelsOf(a),
        annotations: {
          summary: (a.reason ?? a.error ?? 'failed').slice(0, 1000),
          url: actionUrl(deps.config.PUBLIC_URL, a.id),
          healing_action: a.id,
        },
        actor: 'healing',
      },
      at,
    )
  } catch (error) {
    deps.log?.error('raising the healing failure alert failed', {
      action: a.id,
      error: String((error as Error)?.message ?? error),
    })
  }
}

export async function resolveFailure(deps: HealingDeps, a: HealingAction, at: number) {
  try {
    await deps.alerts.report(
      {
        fingerprint: fingerprintOf(a),
        source: 'healing',
        state: 'resolved',
        severity: 'error',
        title: `Healing failed: ${a.actionType} on ${a.target}`,
        labels: labelsOf(a),
        actor: 'healing',
      },
      at,
    )
  } catch (error) {
    deps.log?.error('resolving the healing failure alert failed', {
      action: a.id,
      error: String((error as Error)?.message ?? error),
    })
  }
}
