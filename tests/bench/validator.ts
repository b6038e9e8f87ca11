/**
 * The workflow validator's figure (`BENCH_ONLY=validator`): 1,000 workflows of 50 nodes each
 * (issue 18: < 5 s). The workflows are shaped like real ones: a webhook or schedule trigger, a
 * chain of Set / IF / HTTP Request nodes whose expressions read earlier nodes by name, a Code
 * node every 10 nodes (a dozen lines of JavaScript, parsed by acorn), credentials, an error
 * workflow set; half are active with their own webhook paths. Every rule runs on every node.
 *
 * - The command line as CI runs it: `bun app/cli.ts workflows validate <folder> --json` over the
 *   1,000 files (Bun start-up and reading the files included): the figure with the < 5 s target.
 * - The same set validated in this process (the rules alone, after the files are read).
 * - The baseline, in the same run: reading and JSON.parse of the same files in this process.
 * Returns table rows and what failed to run; asserts nothing.
 */
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { candidatesOf, validateWorkflows } from '../../app/modules/n8n/index.ts'
import { BUN, runCommand } from './lib.ts'

const COUNT = Number(process.env.VALIDATOR_WORKFLOWS ?? 1000)
const NODES = Number(process.env.VALIDATOR_NODES ?? 50)
const TARGET_MS = 5000

/** Unique per workflow and node, so the validator's per-run cache of parsed code saves nothing here. */
const code = (w: number, i: number) =>
  [
    `// Normalise the order lines and total them (workflow ${w}, step ${i})`,
    `const prev = $('Step ${i - 1}').all();`,
    'const out = [];',
    'for (const item of prev) {',
    '  const lines = item.json.lines ?? [];',
    '  const total = lines.reduce((sum, l) => sum + (l.qty ?? 0) * (l.price ?? 0), 0);',
    '  out.push({ json: { ...item.json, total, currency: item.json.currency ?? "EUR" } });',
    '}',
    'const rate = await Promise.resolve(1.1);',
    'if (!out.length) return [{ json: { empty: true } }];',
    'return out.map((o) => ({ json: { ...o.json, converted: o.json.total * rate } }));',
  ].join('\n')

function workflow(w: number) {
  const active = w % 2 === 0
  const nodes: Record<string, unknown>[] = [
    w % 3 === 0
      ? {
          name: 'Step 0',
          type: 'n8n-nodes-base.scheduleTrigger',
          parameters: { rule: { interval: [{ field: 'hours' }] } },
        }
      : { name: 'Step 0', type: 'n8n-nodes-base.webhook', parameters: { path: `orders-${w}`, httpMethod: 'POST' } },
  ]
  for (let i = 1; i < NODES; i++) {
    const kind = i % 10 === 5 ? 'code' : i % 4
    nodes.push(
      kind === 'code'
        ? { name: `Step ${i}`, type: 'n8n-nodes-base.code', parameters: { jsCode: code(w, i) } }
        : kind === 1
          ? {
              name: `Step ${i}`,
              type: 'n8n-nodes-base.httpRequest',
              parameters: {
                method: 'POST',
                url: `=https://api.example.com/v1/orders/{{ $('Step ${i - 1}').item.json.id }}`,
                sendBody: true,
                bodyParameters: { parameters: [{ name: 'total', value: `={{ $node["Step ${i - 1}"].json.total }}` }] },
                options: { timeout: 10_000 },
              },
              credentials: { httpHeaderAuth: { id: `cred${w % 20}`, name: `API token ${w % 20}` } },
            }
          : kind === 2
            ? {
                name: `Step ${i}`,
                type: 'n8n-nodes-base.if',
                parameters: {
                  conditions: {
                    conditions: [
                      {
                        leftValue: '={{ $json.total }}',
                        rightValue: 100,
                        operator: { type: 'number', operation: 'gt' },
                      },
                    ],
                  },
                },
              }
            : {
                name: `Step ${i}`,
                type: 'n8n-nodes-base.set',
                parameters: {
                  assignments: {
                    assignments: [
                      { name: 'customer', value: `={{ $('Step 0').item.json.body?.customer }}`, type: 'string' },
                    ],
                  },
                },
              },
    )
  }
  return {
    id: `wf${w}`,
    name: `Orders pipeline ${w}`,
    active,
    nodes: nodes.map((n, i) => ({ id: `n${i}`, typeVersion: 1, position: [i * 220, 0], ...n })),
    connections: Object.fromEntries(
      nodes.slice(0, -1).map((n, i) => [n.name, { main: [[{ node: `Step ${i + 1}`, type: 'main', index: 0 }]] }]),
    ),
    settings: { executionOrder: 'v1', errorWorkflow: 'errors' },
    pinData: {},
  }
}

export async function validatorFigures(
  dir: string,
  log: (line: string) => void,
): Promise<{ rows: string[][]; failed: string[] }> {
  const rows: string[][] = []
  const failed: string[] = []
  const folder = join(dir, 'validator')
  mkdirSync(folder, { recursive: true })
  log(`validator: ${COUNT} workflows of ${NODES} nodes`)
  try {
    for (let w = 0; w < COUNT; w++)
      writeFileSync(join(folder, `wf-${String(w).padStart(4, '0')}.json`), JSON.stringify(workflow(w), null, 2))
    const files = readdirSync(folder).map((f) => join(folder, f))

    const best = (runs: number[]) => Math.min(...runs)
    const cli: number[] = []
    let report: { ok: boolean; summary: { workflows: number; errors: number; warnings: number } } | undefined
    for (let r = 0; r < 3; r++) {
      const t0 = performance.now()
      report = JSON.parse(runCommand(BUN, ['app/cli.ts', 'workflows', 'validate', folder, '--json'], {}, 120_000))
      cli.push(performance.now() - t0)
    }
    const parsed = files.flatMap((f) => candidatesOf(JSON.parse(readFileSync(f, 'utf8')), f))
    const inProcess: number[] = []
    for (let r = 0; r < 3; r++) {
      const t0 = performance.now()
      validateWorkflows(parsed)
      inProcess.push(performance.now() - t0)
    }
    const bare: number[] = []
    for (let r = 0; r < 3; r++) {
      const t0 = performance.now()
      for (const f of files) JSON.parse(readFileSync(f, 'utf8'))
      bare.push(performance.now() - t0)
    }
    const s = (ms: number) => `${(ms / 1000).toFixed(2)} s`
    const clean = report!.summary.workflows === COUNT && report!.summary.errors === 0 && report!.summary.warnings === 0
    rows.push([
      `Validator: ${COUNT} workflows × ${NODES} nodes (CLI, --json, best of 3)`,
      s(best(cli)),
      `< ${s(TARGET_MS)}`,
      `${(best(cli) / best(bare)).toFixed(1)}×`,
      best(cli) < TARGET_MS && clean ? 'pass' : 'MISS',
    ])
    rows.push([
      '  the rules alone, in process',
      s(best(inProcess)),
      '—',
      `${(best(inProcess) / best(bare)).toFixed(1)}×`,
      '',
    ])
    rows.push(['  baseline: read + JSON.parse of the files', s(best(bare)), '—', '', ''])
    rows.push([
      '  findings (all generated workflows are clean)',
      `${report!.summary.errors} / ${report!.summary.warnings}`,
      '0 / 0',
      '',
      clean ? 'pass' : 'MISS',
    ])
    log(
      `  CLI ${cli.map(s).join(', ')}; in process ${inProcess.map(s).join(', ')}; read + parse ${bare.map(s).join(', ')}`,
    )
  } catch (error) {
    failed.push(`validator: ${error instanceof Error ? error.message : String(error)}`)
  }
  return { rows, failed }
}
