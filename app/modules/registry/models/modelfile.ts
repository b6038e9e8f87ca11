/**
 * Modelfile validation: a pure parser of Ollama's Modelfile format (docs.ollama.com/modelfile) that
 * reports every problem with its line number, and gives back what `/api/create` needs (the newer
 * JSON form: `from`, `parameters`, `template`, `system`, `license`, `messages`, `adapters`).
 *
 * The format: `# comment` lines; `INSTRUCTION arguments`, instruction names in any case; a value may
 * be bare (the rest of the line), "quoted" or """triple-quoted""", and quoted values may span lines.
 */

export type ModelfileError = { line: number | null; message: string }

export type ParsedModelfile = {
  from: string | null
  adapters: string[]
  parameters: Record<string, number | boolean | string | string[]>
  template: string | null
  system: string | null
  license: string[]
  messages: { role: 'system' | 'user' | 'assistant'; content: string }[]
  requires: string | null
}

export type ModelfileResult = {
  valid: boolean
  errors: ModelfileError[]
  warnings: ModelfileError[]
  parsed: ParsedModelfile
}

type ParamType = 'int' | 'float' | 'bool' | 'string'
type ParamSpec = { type: ParamType; min?: number; max?: number; oneOf?: number[]; repeatable?: boolean }

/**
 * The parameters Ollama documents for PARAMETER (modelfile reference, "Valid Parameters and Values"),
 * plus the runner options its API accepts in the same place (num_keep, typical_p, …). A name not here
 * is refused: Ollama itself fails the create with "unknown parameter".
 */
export const MODELFILE_PARAMETERS: Record<string, ParamSpec> = {
  mirostat: { type: 'int', oneOf: [0, 1, 2] },
  mirostat_eta: { type: 'float', min: 0 },
  mirostat_tau: { type: 'float', min: 0 },
  num_ctx: { type: 'int', min: 1 },
  repeat_last_n: { type: 'int', min: -1 },
  repeat_penalty: { type: 'float', min: 0 },
  temperature: { type: 'float', min: 0 },
  seed: { type: 'int' },
  stop: { type: 'string', repeatable: true },
  num_predict: { type: 'int', min: -2 },
  top_k: { type: 'int', min: 0 },
  top_p: { type: 'float', min: 0, max: 1 },
  min_p: { type: 'float', min: 0, max: 1 },
  typical_p: { type: 'float', min: 0, max: 1 },
  tfs_z: { type: 'float', min: 0 },
  presence_penalty: { type: 'float' },
  frequency_penalty: { type: 'float' },
  penalize_newline: { type: 'bool' },
  num_keep: { type: 'int', min: -1 },
  num_batch: { type: 'int', min: 1 },
  num_gpu: { type: 'int', min: -1 },
  main_gpu: { type: 'int', min: 0 },
  num_thread: { type: 'int', min: 0 },
  use_mmap: { type: 'bool' },
  numa: { type: 'bool' },
}

const INSTRUCTIONS = new Set(['FROM', 'PARAMETER', 'TEMPLATE', 'SYSTEM', 'ADAPTER', 'LICENSE', 'MESSAGE', 'REQUIRES'])
const ROLES = new Set(['system', 'user', 'assistant'])
const INT = /^[+-]?\d+$/
const FLOAT = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/

/** A value read from `rest` (the text after the instruction on line `at`), possibly running onto later lines. */
type Read = { value: string; endLine: number } | { error: ModelfileError; endLine: number }

function readValue(lines: string[], at: number, rest: string): Read {
  const text = rest.trim()
  const quote = text.startsWith('"""') ? '"""' : text.startsWith('"') ? '"' : null
  if (!quote) return { value: text, endLine: at }
  let body = text.slice(quote.length)
  let line = at
  for (;;) {
    const close = body.indexOf(quote)
    if (close >= 0) {
      const after = body.slice(close + quote.length).trim()
      if (after)
        return {
          error: { line: line + 1, message: `unexpected text after the closing ${quote}: "${after.slice(0, 40)}"` },
          endLine: line,
        }
      return { value: body.slice(0, close), endLine: line }
    }
    if (line + 1 >= lines.length)
      return {
        error: { line: at + 1, message: `unterminated ${quote} value (opened here, never closed)` },
        endLine: line,
      }
    line++
    body += `\n${lines[line]}`
  }
}

function checkParameter(
  name: string,
  raw: string,
  line: number,
): { value: number | boolean | string } | ModelfileError {
  const spec = MODELFILE_PARAMETERS[name]
  if (!spec) return { line, message: `unknown parameter "${name}"` }
  if (!raw) return { line, message: `PARAMETER ${name} needs a value` }
  const fail = (what: string) => ({ line, message: `PARAMETER ${name} must be ${what}, not "${raw.slice(0, 40)}"` })
  if (spec.type === 'string') return { value: raw }
  if (spec.type === 'bool') {
    if (raw !== 'true' && raw !== 'false') return fail('true or false')
    return { value: raw === 'true' }
  }
  if (spec.type === 'int' ? !INT.test(raw) : !FLOAT.test(raw))
    return fail(spec.type === 'int' ? 'an integer' : 'a number')
  const n = Number(raw)
  if (spec.oneOf && !spec.oneOf.includes(n)) return fail(`one of ${spec.oneOf.join(', ')}`)
  if (spec.min !== undefined && n < spec.min) return fail(`at least ${spec.min}`)
  if (spec.max !== undefined && n > spec.max) return fail(`at most ${spec.max}`)
  return { value: n }
}

/** Parses and checks a Modelfile; never throws. Errors and warnings carry 1-based line numbers. */
export function validateModelfile(text: string): ModelfileResult {
  const lines = text.split(/\r?\n/)
  const errors: ModelfileError[] = []
  const warnings: ModelfileError[] = []
  const parsed: ParsedModelfile = {
    from: null,
    adapters: [],
    parameters: {},
    template: null,
    system: null,
    license: [],
    messages: [],
    requires: null,
  }
  const seen = new Map<string, number>()
  for (let i = 0; i < lines.length; i++) {
    const trimmed = lines[i]!.trim()
    if (!trimmed || trimmed.startsWith('#')) continue
    const line = i + 1
    const m = /^(\S+)(?:\s+([\s\S]*))?$/.exec(trimmed)!
    const instruction = m[1]!.toUpperCase()
    const rest = m[2] ?? ''
    if (!INSTRUCTIONS.has(instruction)) {
      errors.push({ line, message: `unknown instruction "${m[1]}"` })
      continue
    }
    // PARAMETER and MESSAGE take a word (the name, the role) before their value.
    let word = ''
    let valueText = rest
    if (instruction === 'PARAMETER' || instruction === 'MESSAGE') {
      const w = /^(\S+)(?:\s+([\s\S]*))?$/.exec(rest.trim())
      if (!w) {
        errors.push({
          line,
          message: `${instruction} needs ${instruction === 'PARAMETER' ? 'a name' : 'a role'} and a value`,
        })
        continue
      }
      word = w[1]!
      valueText = w[2] ?? ''
    }
    const read = readValue(lines, i, valueText)
    i = read.endLine
    if ('error' in read) {
      errors.push(read.error)
      continue
    }
    const value = read.value
    switch (instruction) {
      case 'FROM':
        if (!value.trim()) errors.push({ line, message: 'FROM needs a model name or a file path' })
        else if (parsed.from !== null) warnings.push({ line, message: 'a second FROM: the last one is used' })
        parsed.from = value.trim() || parsed.from
        break
      case 'ADAPTER':
        if (!value.trim()) errors.push({ line, message: 'ADAPTER needs a file path' })
        else parsed.adapters.push(value.trim())
        break
      case 'PARAMETER': {
        const name = word.toLowerCase()
        const checked = checkParameter(name, value.trim(), line)
        if ('message' in checked) {
          errors.push(checked)
          break
        }
        if (MODELFILE_PARAMETERS[name]!.repeatable) {
          const list = (parsed.parameters[name] as string[] | undefined) ?? []
          parsed.parameters[name] = [...list, checked.value as string]
        } else {
          if (name in parsed.parameters)
            warnings.push({
              line,
              message: `PARAMETER ${name} set again (line ${seen.get(`p:${name}`)}): the last is used`,
            })
          parsed.parameters[name] = checked.value
          seen.set(`p:${name}`, line)
        }
        break
      }
      case 'TEMPLATE':
      case 'SYSTEM': {
        const key = instruction === 'TEMPLATE' ? 'template' : 'system'
        if (parsed[key] !== null)
          warnings.push({ line, message: `${instruction} set again (line ${seen.get(key)}): the last is used` })
        parsed[key] = value
        seen.set(key, line)
        break
      }
      case 'LICENSE':
        if (!value.trim()) errors.push({ line, message: 'LICENSE needs the license text' })
        else parsed.license.push(value)
        break
      case 'MESSAGE': {
        const role = word.toLowerCase()
        if (!ROLES.has(role)) {
          errors.push({ line, message: `MESSAGE role must be system, user or assistant, not "${word.slice(0, 40)}"` })
          break
        }
        if (!value.trim()) errors.push({ line, message: `MESSAGE ${role} needs the message text` })
        else parsed.messages.push({ role: role as 'system' | 'user' | 'assistant', content: value })
        break
      }
      case 'REQUIRES':
        if (!/^\d+\.\d+(\.\d+)?$/.test(value.trim()))
          errors.push({
            line,
            message: `REQUIRES must be an Ollama version such as 0.6.0, not "${value.slice(0, 40)}"`,
          })
        else parsed.requires = value.trim()
        break
    }
  }
  if (parsed.from === null && !errors.some((e) => /^FROM /.test(e.message)))
    errors.unshift({ line: null, message: 'FROM is required: name the base model (e.g. FROM llama3.2)' })
  return { valid: errors.length === 0, errors, warnings, parsed }
}

/** Whether FROM names a file (a GGUF or Safetensors path) rather than a model Ollama knows by name. */
export const fromIsPath = (from: string) => /^(\.{0,2}\/|~\/|[A-Za-z]:\\)/.test(from) || /\.(gguf|bin)$/i.test(from)

/**
 * The JSON body of Ollama's current `/api/create` (it takes the parts, not a raw Modelfile) for a
 * Modelfile naming its base model. A FROM path or an ADAPTER needs its blobs uploaded first
 * (`/api/blobs`), which Homeostat does not do: such a version is refused with the reason.
 */
export function createBody(model: string, p: ParsedModelfile): { body: Record<string, unknown> } | { error: string } {
  if (!p.from) return { error: 'the Modelfile has no FROM' }
  if (fromIsPath(p.from)) return { error: `FROM ${p.from} is a file: deploy from a model the host can pull by name` }
  if (p.adapters.length)
    return { error: 'ADAPTER needs its file uploaded to the host first, which Homeostat does not do' }
  const body: Record<string, unknown> = { model, from: p.from, stream: true }
  if (Object.keys(p.parameters).length) body.parameters = p.parameters
  if (p.template !== null) body.template = p.template
  if (p.system !== null) body.system = p.system
  if (p.license.length) body.license = p.license.length === 1 ? p.license[0] : p.license
  if (p.messages.length) body.messages = p.messages
  return { body }
}
