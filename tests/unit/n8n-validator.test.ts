/**
 * The workflow validator's rules, one broken workflow per rule (tests/fixtures/n8n-workflows/broken,
 * each named for the one rule it must trip and no other), the clean fixtures and the real workflows
 * exported from n8n for the e2e suite (tests/e2e/n8n/workflows), which must validate clean.
 */
import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import {
  candidatesOf,
  failed,
  formatReport,
  latestVersions,
  RULES,
  validateWorkflows,
  type Finding,
} from '../../app/modules/n8n/index.ts'
import { syntaxError } from '../../app/modules/n8n/validator/code-rules.ts'
import { referencedNames } from '../../app/modules/n8n/validator/expression-rules.ts'

const FIXTURES = join(import.meta.dirname, '../fixtures/n8n-workflows')
const E2E = join(import.meta.dirname, '../e2e/n8n/workflows')
const read = (file: string) => JSON.parse(readFileSync(file, 'utf8')) as unknown
const credentials = read(join(import.meta.dirname, '../fixtures/n8n-credentials.json')) as { id: string }[]

const validateFile = (file: string, facts = { credentials }) => validateWorkflows(candidatesOf(read(file), file), facts)
const rulesOf = (findings: Finding[]) => [...new Set(findings.map((f) => f.rule))]

const node = (name: string, type: string, parameters: Record<string, unknown> = {}, more = {}) => ({
  id: name,
  name,
  type,
  typeVersion: 1,
  position: [0, 0],
  parameters,
  ...more,
})
const wf = (nodes: unknown[], connections: Record<string, unknown> = {}, more = {}) => ({
  name: 'w',
  nodes,
  connections,
  ...more,
})
const main = (...targets: string[]) => ({ main: [targets.map((node) => ({ node, type: 'main', index: 0 }))] })
const findingsOf = (json: unknown, facts?: Parameters<typeof validateWorkflows>[1]) =>
  validateWorkflows([{ source: 't', json }], facts).workflows[0]!.findings

describe('one broken workflow per rule', () => {
  const files = readdirSync(join(FIXTURES, 'broken'))

  it('there is a fixture for every rule', () => {
    expect(files.map((f) => f.replace(/\.json$/, '')).sort()).toEqual([...RULES].sort())
  })

  for (const file of files) {
    const rule = file.replace(/\.json$/, '')
    it(`${rule}: trips ${rule} and nothing else`, () => {
      const report = validateFile(join(FIXTURES, 'broken', file))
      const findings = report.workflows.flatMap((w) => w.findings)
      expect(findings.length, JSON.stringify(findings)).toBeGreaterThan(0)
      expect(rulesOf(findings)).toEqual([rule])
      for (const f of findings) expect(f.message.length).toBeGreaterThan(10)
    })
  }

  it('errors fail the gate, warnings only with strict', () => {
    const errors = validateFile(join(FIXTURES, 'broken', 'code-syntax.json'))
    const warnings = validateFile(join(FIXTURES, 'broken', 'orphan-node.json'))
    expect([failed(errors), failed(warnings), failed(warnings, true)]).toEqual([true, false, true])
    expect(errors.summary).toEqual({ workflows: 1, errors: 1, warnings: 0, infos: 0 })
  })
})

describe('clean workflows stay clean', () => {
  it('the clean fixtures (an active webhook workflow and its error workflow) have no findings', () => {
    for (const file of readdirSync(join(FIXTURES, 'clean')))
      expect(validateFile(join(FIXTURES, 'clean', file)).workflows[0]!.findings, file).toEqual([])
  })

  it('the real workflows exported from n8n 1.123 (the e2e suite) validate clean, together', () => {
    const candidates = readdirSync(E2E).flatMap((f) => candidatesOf(read(join(E2E, f)), f))
    expect(candidates.length).toBeGreaterThanOrEqual(6)
    const report = validateWorkflows(candidates)
    expect(report.workflows.filter((w) => w.findings.length)).toEqual([])
    expect(formatReport(report)).toContain(`${candidates.length} workflows: 0 errors, 0 warnings`)
  })
})

describe('rules in detail', () => {
  it('shape: not an object, no nodes, duplicate node names', () => {
    expect(rulesOf(findingsOf([1, 2]))).toEqual(['shape'])
    expect(findingsOf({ name: 'x', connections: {} })[0]!.message).toBe('nodes: is missing')
    const dup = findingsOf(wf([node('A', 'n8n-nodes-base.manualTrigger'), node('A', 'n8n-nodes-base.set')]))
    expect(dup[0]).toMatchObject({ rule: 'shape', node: 'A', message: expect.stringContaining('two nodes') })
  })

  it('connection-missing-node: a source that is not a node, and a target that is not', () => {
    const f = findingsOf(wf([node('T', 'n8n-nodes-base.manualTrigger')], { Gone: main('T'), T: main('Nope') }))
    expect(f.map((x) => [x.rule, x.node])).toEqual([
      ['connection-missing-node', 'Gone'],
      ['connection-missing-node', 'T'],
    ])
  })

  it('orphan-node: AI sub-node connections count as connections; sticky notes and triggers are never orphans', () => {
    const f = findingsOf(
      wf(
        [
          node('Chat', '@n8n/n8n-nodes-langchain.chatTrigger'),
          node('Agent', '@n8n/n8n-nodes-langchain.agent'),
          node('Model', '@n8n/n8n-nodes-langchain.lmChatOllama'),
          node('Note', 'n8n-nodes-base.stickyNote'),
          node('Lonely trigger', 'n8n-nodes-base.scheduleTrigger'),
        ],
        { Chat: main('Agent'), Model: { ai_languageModel: [[{ node: 'Agent', type: 'ai_languageModel', index: 0 }]] } },
      ),
    )
    expect(f).toEqual([])
  })

  it('active-without-trigger: manual, error and sub-workflow triggers do not start an active workflow; a disabled trigger neither', () => {
    const settings = { errorWorkflow: 'e' }
    for (const type of ['manualTrigger', 'errorTrigger', 'executeWorkflowTrigger'])
      expect(rulesOf(findingsOf(wf([node('T', `n8n-nodes-base.${type}`)], {}, { active: true, settings })))).toContain(
        'active-without-trigger',
      )
    const disabled = wf(
      [node('T', 'n8n-nodes-base.scheduleTrigger', {}, { disabled: true })],
      {},
      { active: true, settings },
    )
    expect(rulesOf(findingsOf(disabled))).toEqual(['active-without-trigger'])
    const cron = wf([node('T', 'n8n-nodes-base.cron')], {}, { active: true, settings })
    expect(findingsOf(cron)).toEqual([])
  })

  it('expression-missing-node: every reference form, in nested parameters and Code, escapes and templates', () => {
    expect(
      referencedNames(
        `={{ $('A').item + $("B \\"q\\"").first() + $(\`C\`) + $node["D"].json + $node['E'] + $node.F.json + $items("G") + $(\`x\${y}\`) }}`,
      ),
    ).toEqual(['A', 'B "q"', 'C', 'D', 'E', 'G', 'F'])
    const f = findingsOf(
      wf(
        [
          node('T', 'n8n-nodes-base.manualTrigger'),
          node('Set', 'n8n-nodes-base.set', {
            assignments: {
              assignments: [{ name: 'a', value: "={{ $('T').item.json.x }}" }, { value: "={{ $('Z') }}" }],
            },
            plain: "$('NotAnExpression')",
          }),
          node('Code', 'n8n-nodes-base.code', { jsCode: "return $('Y').all()" }),
        ],
        { T: main('Set'), Set: main('Code') },
      ),
    )
    expect(f.map((x) => [x.node, x.message.match(/node "(\w+)"/)?.[1]])).toEqual([
      ['Set', 'Z'],
      ['Code', 'Y'],
    ])
  })

  it('duplicate-webhook: dynamic segments and outer slashes do not tell paths apart; methods do; inactive ones do not count', () => {
    const hook = (path: string, httpMethod: unknown, active = true) =>
      wf([node('W', 'n8n-nodes-base.webhook', { path, httpMethod })], {}, { active, settings: { errorWorkflow: 'e' } })
    const run = (...ws: unknown[]) =>
      validateWorkflows(ws.map((json, i) => ({ source: String(i), json }))).workflows.map((w) => rulesOf(w.findings))
    expect(run(hook('/users/:id/', 'GET'), hook('users/:name', 'GET'))).toEqual([
      ['duplicate-webhook'],
      ['duplicate-webhook'],
    ])
    expect(run(hook('users', 'GET'), hook('users', 'POST'))).toEqual([[], []])
    expect(run(hook('users', ['GET', 'POST']), hook('users', 'POST'))).toEqual([
      ['duplicate-webhook'],
      ['duplicate-webhook'],
    ])
    expect(run(hook('users', 'GET'), hook('users', 'GET', false))).toEqual([[], []])
    expect(run(hook('={{ $json.p }}', 'GET'), hook('={{ $json.p }}', 'GET'))).toEqual([[], []])
  })

  it('credential-missing: by id, by name when no id, unknown types from the instance; nothing known, nothing said', () => {
    const w = wf(
      [
        node('T', 'n8n-nodes-base.manualTrigger'),
        node('A', 'n8n-nodes-base.slack', {}, { credentials: { slackApi: { name: 'Slack bot' } } }),
        node('B', 'CUSTOM.thing', {}, { credentials: { thingApi: { id: '9', name: 'Thing' } } }),
      ],
      { T: main('A', 'B') },
    )
    expect(findingsOf(w)).toEqual([])
    const facts = { credentials: [{ id: '9', name: 'Thing', type: 'thingApi' }] }
    expect(findingsOf(w, facts).map((f) => f.node)).toEqual(['A'])
    const types = {
      credentialTypes: new Map([
        ['slackApi', true],
        ['thingApi', false],
      ]),
    }
    expect(findingsOf(w, types)).toMatchObject([{ node: 'B', message: expect.stringContaining('does not know') }])
  })

  it('disabled-on-path: a disabled trigger, a node at the end; not a disabled node off every path', () => {
    const f = findingsOf(
      wf(
        [
          node('T', 'n8n-nodes-base.webhook', { path: 'x' }, { disabled: true }),
          node('End', 'n8n-nodes-base.set', {}, { disabled: true }),
        ],
        { T: main('End') },
      ),
    )
    expect(f.map((x) => x.message)).toEqual([
      expect.stringContaining('disabled trigger'),
      expect.stringContaining('end of a path'),
    ])
  })

  it('pinned-data: empty pins are not pinned data', () => {
    expect(findingsOf(wf([node('T', 'n8n-nodes-base.manualTrigger')], {}, { pinData: { T: [] } }))).toEqual([])
  })

  it('code-syntax: parses as n8n runs it (top-level return and await), Python is not parsed', () => {
    expect(syntaxError('const r = await fetchIt();\nreturn [{ json: r }]')).toBeNull()
    expect(syntaxError('for (const i of $input.all()) { i.json.x = 1 }\nreturn $input.all()')).toBeNull()
    expect(syntaxError('return [{ json: { a: 1 }]')).toMatch(/\(1:\d+\)/)
    const py = node('Py', 'n8n-nodes-base.code', { language: 'python', pythonCode: 'return [{"json": {}}' })
    expect(findingsOf(wf([node('T', 'n8n-nodes-base.manualTrigger'), py], { T: main('Py') }))).toEqual([])
    const old = node('Fn', 'n8n-nodes-base.function', { functionCode: 'return items.map(' })
    expect(rulesOf(findingsOf(wf([node('T', 'n8n-nodes-base.manualTrigger'), old], { T: main('Fn') })))).toEqual([
      'code-syntax',
    ])
  })

  it('no-error-workflow: not for an inactive workflow, nor for an error workflow itself', () => {
    const hook = node('W', 'n8n-nodes-base.webhook', { path: 'p' })
    expect(rulesOf(findingsOf(wf([hook], {}, { active: true })))).toEqual(['no-error-workflow'])
    expect(findingsOf(wf([hook], {}, { active: false }))).toEqual([])
    const errorWf = wf([hook, node('E', 'n8n-nodes-base.errorTrigger')], {}, { active: true })
    expect(findingsOf(errorWf)).toEqual([])
  })
})

describe('sources', () => {
  const envelope = (version: number, code: string) => ({
    instance: 'prod',
    workflowId: 'w1',
    version,
    workflow: wf([node('T', 'n8n-nodes-base.manualTrigger'), node('C', 'n8n-nodes-base.code', { jsCode: code })], {
      T: main('C'),
    }),
  })

  it('a history export folder: only the latest version of each workflow is checked, with its id', () => {
    const all = [
      ...candidatesOf(envelope(1, 'return ['), 'prod/w-w1/0001.json'),
      ...candidatesOf(envelope(2, 'return []'), 'prod/w-w1/0002.json'),
    ]
    const latest = latestVersions(all)
    expect(latest.map((c) => c.source)).toEqual(['prod/w-w1/0002.json'])
    const report = validateWorkflows(latest)
    expect(report.workflows[0]).toMatchObject({ id: 'w1', findings: [] })
    expect(validateWorkflows(all).summary.errors).toBe(1)
  })

  it('a list (n8n export:workflow --all) and {workflows: […]} name each entry', () => {
    expect(candidatesOf([{}, {}], 'all.json').map((c) => c.source)).toEqual(['all.json[0]', 'all.json[1]'])
    expect(candidatesOf({ workflows: [{}] }, 'b').map((c) => c.source)).toEqual(['b[0]'])
  })
})
