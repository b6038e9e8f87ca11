/** The human report: one block per workflow with findings, then a summary line. */
import type { Report } from './types.ts'

const MARK = { error: 'ERROR', warning: 'WARN ', info: 'INFO ' } as const

export function formatReport(report: Report, opts: { quiet?: boolean } = {}): string {
  const lines: string[] = []
  for (const w of report.workflows) {
    if (!w.findings.length) {
      if (!opts.quiet) lines.push(`ok     ${w.source}${w.name ? ` — ${w.name}` : ''}`)
      continue
    }
    lines.push(`${w.source}${w.name ? ` — ${w.name}` : ''}${w.active ? ' (active)' : ''}`)
    for (const f of w.findings) lines.push(`  ${MARK[f.severity]} ${f.rule.padEnd(24)} ${f.message}`)
  }
  const s = report.summary
  lines.push(
    `${s.workflows} workflow${s.workflows === 1 ? '' : 's'}: ${s.errors} error${s.errors === 1 ? '' : 's'}, ` +
      `${s.warnings} warning${s.warnings === 1 ? '' : 's'}, ${s.infos} info`,
  )
  return `${lines.join('\n')}\n`
}
