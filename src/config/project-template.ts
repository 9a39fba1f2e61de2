/** What `toolctl init` writes: a toolctl.yaml that validates as it is, every option shown in a comment. */
export const PROJECT_TEMPLATE = `# toolctl project: the tools this project uses, kept with its code (docs/projects.md).
# Any toolctl command run in this directory or below it uses the registry in .toolctl/ here;
# --home and TOOLCTL_HOME still win. \`toolctl sync\` imports what is listed below.
# This file is committed: it holds no secrets (set those with \`toolctl secret set\`).
version: 1

# Manifest files, or directories of them, relative to this file.
manifests: []
#  - tools/
#  - tools/stripe.yaml

# OpenAPI specs, each imported as one tool (pending until approved with \`toolctl tool approve\`).
specs: []
#  - openapi: api/openapi.yaml      # or an https:// URL
#    name: petstore                 # default: from the spec's title
#    baseUrl: https://sandbox.example.com
#    tags: [pet]
#    operations: [listPets]
#    pathPrefix: /v1
#    strict: true

# Spending limits for this project, in USD. They can only lower yours (~/.toolctl/config.yaml).
# limits:
#   perActionUsd: 20
#   dailyUsd: 50

# Settings for this project. Those that protect you can only be made stricter here.
# settings:
#   approvals:
#     paidActions: true
#     twoFactorAboveUsd: 10
#     timeoutSeconds: 300
#   rollback:
#     auto: true
#     timeoutSeconds: 60
#   sandboxApis: true
#   audit:
#     dryRuns: true
#   docker:
#     pull: true
#     sandboxProcesses: true
#   process:
#     confinement: required
`;
