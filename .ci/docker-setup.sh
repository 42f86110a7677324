#!/usr/bin/env bash
# CI (as root, no stdin): a Docker daemon and the sandbox image built offline, so the docker tests run
# for real. No container registry is used: the base comes from mmdebstrap over this machine's apt
# sources, the wheels from `pip download` on the host. Idempotent and fast once done.
set -euo pipefail
cd "$(dirname "$0")/.."
export DEBIAN_FRONTEND=noninteractive NEEDRESTART_SUSPEND=1
started=$SECONDS
log() { echo "docker-setup: $*" >&2; }

if ! command -v dockerd >/dev/null || ! command -v mmdebstrap >/dev/null; then
  log "installing docker.io and mmdebstrap"
  apt-get update -qq
  apt-get install -y -qq docker.io mmdebstrap >/dev/null
fi

if ! docker info >/dev/null 2>&1; then
  if ! pgrep -x dockerd >/dev/null; then
    log "starting dockerd (log: /var/log/lit2code-dockerd.log)"
    # Its own session, no inherited descriptors: it outlives this script and never holds CI's output open.
    setsid dockerd >/var/log/lit2code-dockerd.log 2>&1 </dev/null &
  fi
  for _ in $(seq 60); do
    docker info >/dev/null 2>&1 && break
    sleep 1
  done
  if ! docker info >/dev/null 2>&1; then
    log "dockerd did not answer within 60 s; last lines of its log:"
    tail -n 20 /var/log/lit2code-dockerd.log >&2 || true
    exit 1
  fi
fi

.venv/bin/lit2code sandbox build --offline
log "ready in $((SECONDS - started)) s"
