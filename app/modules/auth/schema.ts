import * as v from 'valibot'
import { roles } from '../../../db/schema/auth.ts'
import { CursorInput, LimitInput } from '../../lib/pagination.ts'
import { TimeInput } from '../../lib/time.ts'
import { keyScopes } from './keys.ts'

export const Email = v.pipe(
  v.string('must be a string'),
  v.trim(),
  v.toLowerCase(),
  v.maxLength(254, 'is too long'),
  v.email('must be an email address'),
)
export const Password = v.pipe(
  v.string('must be a string'),
  v.minLength(12, 'must be at least 12 characters'),
  v.maxLength(200, 'must be at most 200 characters'),
)
export const RoleInput = v.picklist(roles, `must be one of ${roles.join(', ')}`)
const Name = v.pipe(v.string('must be a string'), v.trim(), v.maxLength(100, 'must be at most 100 characters'))
const KeyName = v.pipe(
  v.string('must be a string'),
  v.trim(),
  v.minLength(1, 'is required'),
  v.maxLength(100, 'must be at most 100 characters'),
)
export const scopeChoices = ['', ...keyScopes, 'routes,breakers'] as const
const Scope = v.picklist(keyScopes, `must be one of ${keyScopes.join(', ')}`)

export const IdParam = v.object({ id: v.pipe(v.string(), v.minLength(1), v.maxLength(100)) })

export const CreateUser = v.strictObject({ email: Email, name: v.optional(Name), role: RoleInput, password: Password })
export const UpdateUser = v.strictObject({
  name: v.optional(Name),
  role: v.optional(RoleInput),
  password: v.optional(Password),
  unlock: v.optional(v.boolean('must be true or false')),
})

/** An alert source a key can be bound to: the receivers' names (alertmanager, grafana, …) or one of your own. */
const Source = v.pipe(
  v.string('must be a string'),
  v.regex(/^[a-z0-9_.-]{1,100}$/, 'must be a source name (lower-case letters, digits, _ . -)'),
)

export const CreateKey = v.pipe(
  v.strictObject({
    name: KeyName,
    role: RoleInput,
    scopes: v.optional(v.pipe(v.array(Scope, 'must be a list of scopes'), v.maxLength(10)), []),
    source: v.optional(v.nullable(Source)),
    expiresAt: v.optional(v.nullable(TimeInput)),
  }),
  // A binding only means something on the ingest routes, so it needs a key limited to them.
  v.forward(
    v.check((k) => !k.source || k.scopes.includes('ingest'), 'needs the ingest scope'),
    ['source'],
  ),
)

export const ListQuery = v.object({ limit: LimitInput, cursor: CursorInput })

export const ChangePassword = v.strictObject({
  currentPassword: v.pipe(v.string(), v.maxLength(200)),
  newPassword: Password,
})
export const TotpCode = v.strictObject({
  code: v.pipe(
    v.string('must be a string'),
    v.trim(),
    v.regex(/^(\d{6}|[a-z0-9]{10})$/i, 'must be a 6-digit code or a recovery code'),
  ),
})
export const DisableTwoFactor = v.strictObject({ password: v.pipe(v.string(), v.maxLength(200)) })

// Dashboard forms send strings and may carry fields the API does not take (the CSRF token).
const optionalText = v.optional(
  v.pipe(
    v.string(),
    v.trim(),
    v.transform((s) => (s === '' ? undefined : s)),
  ),
)
export const LoginForm = v.object({
  email: Email,
  password: v.pipe(v.string(), v.minLength(1, 'is required'), v.maxLength(200)),
  next: optionalText,
})
export const SecondFactorForm = v.object({
  ticket: v.pipe(v.string(), v.maxLength(200)),
  code: TotpCode.entries.code,
  next: optionalText,
})
export const SetupForm = v.object({
  token: v.pipe(v.string(), v.maxLength(200)),
  email: Email,
  name: v.optional(Name),
  password: Password,
})
export const UserForm = v.object({ email: Email, name: v.optional(Name), role: RoleInput, password: Password })
export const UserRoleForm = v.object({ role: RoleInput })
export const KeyForm = v.pipe(
  v.object({
    name: KeyName,
    role: RoleInput,
    // One choice on the page: no limit, one scope, or the agent's pair (read routes, report breakers).
    scope: v.optional(v.picklist(scopeChoices, `must be one of ${scopeChoices.filter(Boolean).join(', ')} or empty`)),
    source: v.optional(v.union([v.literal(''), Source], 'must be a source name or empty')),
    expiresInDays: v.optional(v.pipe(v.string(), v.trim(), v.regex(/^\d{0,4}$/, 'must be a whole number of days'))),
  }),
  v.forward(
    v.check((f) => !f.source || f.scope === 'ingest', 'needs the ingest scope'),
    ['source'],
  ),
)

/** The dashboard theme: light, dark, or system (follow the browser). */
export const ThemeBody = v.strictObject({
  theme: v.picklist(['light', 'dark', 'system'], 'must be light, dark or system'),
})
