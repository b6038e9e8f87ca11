/**
 * Rule `code-syntax`: a Code (or older Function) node whose JavaScript does not parse fails every
 * run that reaches it. Parsed with acorn (runtime-neutral, no evaluation), as n8n runs it: the code
 * is the body of an async function, so a top-level `return` and `await` are allowed.
 */
import { parse } from 'acorn'
import { javaScriptOf } from './node-kinds.ts'
import type { Checked } from './shape.ts'
import type { Finding } from './types.ts'

/** The parse error's message with its line and column in the node's code, or null when it parses. */
export function syntaxError(code: string): string | null {
  try {
    parse(code, {
      ecmaVersion: 'latest',
      sourceType: 'script',
      allowReturnOutsideFunction: true,
      allowAwaitOutsideFunction: true,
      allowHashBang: false,
    })
    return null
  } catch (error) {
    // acorn's message ends in "(line:column)" already.
    return error instanceof SyntaxError ? error.message : String(error)
  }
}

/**
 * `seen`: parse results of this validation run by code text (one run's map, made by the caller), so
 * the same code copied into many workflows is parsed once.
 */
export function codeRules(c: Checked, seen: Map<string, string | null> = new Map()): Finding[] {
  const findings: Finding[] = []
  for (const node of c.wf.nodes) {
    const code = javaScriptOf(node.type, node.parameters)
    if (code === null) continue
    let problem = seen.get(code)
    if (problem === undefined) {
      problem = syntaxError(code)
      seen.set(code, problem)
    }
    if (problem)
      findings.push({
        rule: 'code-syntax',
        severity: 'error',
        node: node.name,
        message: `the JavaScript of "${node.name}" does not parse: ${problem}`,
      })
  }
  return findings
}
