/**
 * The cases of the n8n suites, declared once: n8n.test.ts (1.123) and n8n2.test.ts (2.x) call
 * `n8nCases` inside their describe, with how each runs a workflow (`Suite.run`) and how it gets an
 * `n8n start` whose Homeostat Trigger workflow is active (the only steps that differ by version).
 */
import { it } from 'vitest'
import type { StartedN8n } from '../../helpers/n8n-start.ts'
import {
  checkContinueOnFail,
  checkFireAndResolve,
  checkNodeVersions,
  checkRecordMetrics,
  type Suite,
} from './checks.ts'
import { checkBackupHistory, checkHealFailover, checkTenThousand } from './checks-heal-backup.ts'
import { checkCredentialTest, checkTrigger } from './checks-start.ts'

export function n8nCases(suite: () => Suite, startWithTrigger: () => Promise<StartedN8n>) {
  /** The `n8n start` of (d), shared with (f). */
  let started: StartedN8n | undefined

  it("(a) records metrics from a Code node's items", () => checkRecordMetrics(suite()))

  it('(b) fires and then resolves an alert', () => checkFireAndResolve(suite()))

  it('(h) runs Alert and Heal version 2 nodes (Resource → Operation) beside a version 1 node', () =>
    checkNodeVersions(suite()))

  it('(c) goes on past a wrong API key with Continue On Fail', () => checkContinueOnFail(suite()))

  it(
    "(e) calls an LLM through the route's active target, reports failures, and the route fails over",
    () => checkHealFailover(suite()),
    180_000,
  )

  it(
    "(g) the Backup node reads an n8n workflow's history and diff, rolls it back, backs up and lists",
    () => checkBackupHistory(suite()),
    180_000,
  )

  it('records 10 000 items in batches of 1 000 (figure: items/s and HTTP requests)', async () => {
    await checkTenThousand(suite())
  }, 300_000)

  it('(d) an active Trigger in `n8n start` receives an alert fired through Homeostat and records a metric back', async () => {
    started = await startWithTrigger()
    await checkTrigger(suite(), started)
  }, 300_000)

  it("(f) the credential Test in n8n runs the nodes' testedBy method for the installed package and shows Homeostat's message", async () => {
    if (!started) throw new Error('needs the n8n start of (d)')
    await checkCredentialTest(suite(), started)
  }, 300_000)
}
