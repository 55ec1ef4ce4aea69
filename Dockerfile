# syntax=docker/dockerfile:1
#
# rolesanywhere-sidecar container image.
#
#   docker build -t rolesanywhere-sidecar:dev .
#
# Base image pinning: NODE_IMAGE names the Node.js base of every stage. The default is a
# tag, which moves. For a release build, pin it to the digest of that tag, looked up at build
# time (this file deliberately carries no digest: one copied from memory would be unverifiable):
#
#   docker buildx imagetools inspect node:22-bookworm-slim --format '{{.Manifest.Digest}}'
#     (or read the top-level "Digest:" line of the plain output: the multi-arch index)
#   docker build --build-arg NODE_IMAGE=node:22-bookworm-slim@sha256:<that digest> .
#
# Bump the tag and the digest together (Renovate/Dependabot can do both), and move to the
# next Node.js LTS line before this one reaches end of life.
ARG NODE_IMAGE=node:22-bookworm-slim

# ---- build: compile TypeScript with the dev dependencies --------------------------------
FROM ${NODE_IMAGE} AS build
WORKDIR /src
# Manifests first so the dependency layer is reused while only sources change.
# --ignore-scripts: the package's own "prepare" script would compile before the sources are
# copied, and no dependency needs an install script (only aws-sdk, a dev dependency, has one).
COPY package.json package-lock.json ./
RUN npm ci --ignore-scripts --no-audit --no-fund
COPY tsconfig.json ./
COPY cmd ./cmd
COPY src ./src
# Compile what the image ships: the repository's tsconfig (same compiler options, same
# dist/ layout) narrowed to cmd/ and src/ without the unit tests. `npm run build` would also
# compile the tests, which import fixtures from test/, kept out of the build context.
# The find is a guard: no compiled test (or its source map) may reach the runtime stage.
RUN printf '%s' '{"extends":"./tsconfig.json","include":["cmd/**/*.ts","src/**/*.ts"],"exclude":["**/*.test.ts"]}' > tsconfig.image.json \
 && ./node_modules/.bin/tsc -p tsconfig.image.json \
 && rm -rf dist/test dist/bench \
 && find dist -name '*.test.js*' -delete \
 && test -f dist/cmd/rolesanywhere-sidecar.js

# ---- prod-deps: production dependencies only, from the same lock file -------------------
FROM ${NODE_IMAGE} AS prod-deps
WORKDIR /src
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund \
 && npm cache clean --force

# ---- runtime ------------------------------------------------------------------------------
FROM ${NODE_IMAGE} AS runtime
LABEL org.opencontainers.image.title="rolesanywhere-sidecar" \
      org.opencontainers.image.description="IAM Roles Anywhere credential-vending sidecar (IMDS and container credential endpoints)" \
      org.opencontainers.image.licenses="Apache-2.0"
WORKDIR /app
# HOME=/tmp: UID 65532 has no passwd entry or home directory; anything that falls back to
# $HOME (e.g. the credential-process cache) then lands in /tmp, which is the one place to
# mount writable (emptyDir or tmpfs) when the root filesystem is read-only.
ENV NODE_ENV=production \
    HOME=/tmp
COPY --from=prod-deps /src/node_modules ./node_modules
COPY --from=build /src/dist ./dist
COPY package.json ./
# Numeric UID/GID so Kubernetes' runAsNonRoot can verify it without reading /etc/passwd
# (65532 is the conventional "nonroot" ID). It owns nothing in the image: the code is
# read-only to it.
USER 65532:65532
# IMDS, container credential endpoint, ops (/healthz, /readyz, /metrics). All three bind
# 127.0.0.1 by default, which is right for a sidecar sharing the pod's network namespace;
# publishing them from a standalone container needs --address/--ops-address 0.0.0.0 with
# --allow-non-loopback (and then the endpoints are reachable by anything that can reach it).
EXPOSE 9911 9912 9913
# No HEALTHCHECK: Kubernetes ignores it (the chart uses /readyz and /healthz probes), and a
# Docker healthcheck would need curl or a second node process in the image.
ENTRYPOINT ["node", "/app/dist/cmd/rolesanywhere-sidecar.js"]
# Configure with ROLESANYWHERE_* environment variables or by replacing the arguments.
CMD ["serve"]
