// The rules of `n8n-node lint` (@n8n/node-cli's eslint config), without the CLI itself: @n8n/node-cli
// pulls in ~700 MB (the AI node SDK) for what these four packages check.
import js from '@eslint/js'
import { n8nCommunityNodesPlugin } from '@n8n/eslint-plugin-community-nodes'
import n8nNodesBase from 'eslint-plugin-n8n-nodes-base'
import tseslint from 'typescript-eslint'

const communityNodesRecommended = n8nCommunityNodesPlugin.configs.recommended

export default tseslint.config(
  { ignores: ['dist', 'node_modules', 'scripts'] },
  {
    files: ['**/*.ts'],
    extends: [js.configs.recommended, tseslint.configs.recommended, communityNodesRecommended],
    rules: { 'prefer-spread': 'off', 'no-console': 'error' },
  },
  { plugins: { 'n8n-nodes-base': n8nNodesBase } },
  {
    files: ['package.json'],
    extends: [communityNodesRecommended],
    rules: { ...n8nNodesBase.configs.community.rules },
    languageOptions: { parser: tseslint.parser, parserOptions: { extraFileExtensions: ['.json'] } },
  },
  {
    files: ['./credentials/**/*.ts'],
    rules: {
      ...n8nNodesBase.configs.credentials.rules,
      'n8n-nodes-base/cred-class-field-documentation-url-miscased': 'off',
      'n8n-nodes-base/cred-class-field-type-options-password-missing': 'off',
    },
  },
  {
    files: ['./nodes/**/*.ts'],
    rules: {
      ...n8nNodesBase.configs.nodes.rules,
      'n8n-nodes-base/node-class-description-inputs-wrong-regular-node': 'off',
      'n8n-nodes-base/node-class-description-outputs-wrong': 'off',
      'n8n-nodes-base/node-param-type-options-max-value-present': 'off',
    },
  },
)
