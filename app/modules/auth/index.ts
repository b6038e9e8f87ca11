// The auth module's public face: other modules, the composition root and jobs import only this.
export { accountPages } from './account-pages.tsx'
export { adminPages } from './admin-pages.tsx'
export {
  createApiKey,
  createKeyStore,
  KEY_PREFIX,
  type KeyCheck,
  type KeyStore,
  keySummary,
  listApiKeys,
  revokeApiKey,
} from './keys.ts'
export { signInPages } from './pages.tsx'
export { rebindTotpSecrets } from './two-factor.ts'
export { authRoutes } from './routes.ts'
export { CreateKey, Email, Password, RoleInput } from './schema.ts'
export { resolveSession, SESSION_COOKIE, setSessionCookie } from './sessions.ts'
export { ensureFirstAdmin } from './setup.ts'
export { createUser, listUsers, updateUser } from './users.ts'
