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

# ---- build: the one-file CLI bundle, as `npm run package` makes it ------------------------
FROM ${NODE_IMAGE} AS build
WORKDIR /src
# Manifests first so the dependency layer is reused while only sources change.
# --ignore-scripts: the package's own "prepare" script would compile before the sources are
# copied, and no dependency needs an install script (esbuild finds its binary in the
# @esbuild/<platform> package npm picks for this architecture, amd64 or arm64).
COPY package.json package-lock.json ./
RUN npm ci --ignore-scripts --no-audit --no-fund
COPY tsconfig.json ./
COPY cmd ./cmd
COPY src ./src
COPY packaging ./packaging
# The repository's tsconfig narrowed to what builds the bundle (no tests), then esbuild's
# bundle of cmd/ with every dependency inlined (packaging/bundle.ts), without the
# certs-example/ demo keys, which stay out of the image.
RUN printf '%s' '{"extends":"./tsconfig.json","include":["cmd/**/*.ts","src/**/*.ts","packaging/**/*.ts"],"exclude":["**/*.test.ts"]}' > tsconfig.image.json \
 && ./node_modules/.bin/tsc -p tsconfig.image.json \
 && node dist/packaging/package.js bundle --without-certs-example \
 && test -f dist/bundle/rolesanywhere-sidecar.cjs

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
# One file and the licenses of what is bundled into it: no node_modules, no package.json.
COPY --from=build /src/dist/bundle/ ./
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
ENTRYPOINT ["node", "/app/rolesanywhere-sidecar.cjs"]
# Configure with ROLESANYWHERE_* environment variables or by replacing the arguments.
CMD ["serve"]
