#!/usr/bin/env bash
# make image-test: build the image on a machine with no image registry, run the compose
# project in the sandbox profile and prove it; print build time, image size, time to ready.
set -euo pipefail
cd "$(dirname "$0")/.."
SUDO=$([ "$(id -u)" = 0 ] || echo sudo)
PROJECT=zc-image-test
IMAGE=zeeg-consumer:local
REDIS_IMAGE=zeeg-consumer-redis:local
BASE=debian:bookworm-slim
export CONSUMER_IMAGE=$IMAGE CONSUMER_REDIS_IMAGE=$REDIS_IMAGE
DC=(docker-compose -p "$PROJECT" -f compose.yaml --env-file deploy/sandbox.env --profile sandbox)
STARTED_DOCKERD=""
PIP=${PIP:-.venv/bin/pip}  # make image-test installs it (make deps)
say() { printf '[image-test] %s\n' "$*"; }

missing=()
command -v docker >/dev/null || missing+=(docker.io)
command -v docker-compose >/dev/null || missing+=(docker-compose)
command -v debootstrap >/dev/null || missing+=(debootstrap)
if [ ${#missing[@]} -gt 0 ]; then
  say "installing ${missing[*]} with apt"
  $SUDO apt-get update -qq
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}"
fi

cleanup() {
  "${DC[@]}" down -v --remove-orphans >/dev/null 2>&1 || true
  if [ -n "$STARTED_DOCKERD" ]; then
    say "stopping the dockerd this script started"
    $SUDO kill "$STARTED_DOCKERD" 2>/dev/null || true
    for _ in $(seq 30); do kill -0 "$STARTED_DOCKERD" 2>/dev/null || break; sleep 1; done
  fi
}
trap cleanup EXIT

if ! docker info >/dev/null 2>&1; then
  say "starting dockerd"
  mkdir -p build
  $SUDO dockerd >build/dockerd.log 2>&1 &
  STARTED_DOCKERD=$!
  for _ in $(seq 60); do docker info >/dev/null 2>&1 && break; sleep 1; done
  docker info >/dev/null 2>&1 || { say "dockerd did not start: see build/dockerd.log"; exit 1; }
fi

if [ -n "${IMAGE_TEST_COLD:-}" ]; then  # measure a build from nothing, base image included
  docker image rm -f "$IMAGE" "$REDIS_IMAGE" "$BASE" >/dev/null 2>&1 || true
  docker builder prune -af >/dev/null 2>&1 || true
fi

if ! docker image inspect "$BASE" >/dev/null 2>&1; then
  # No registry: the same Debian release, bootstrapped from the mirror apt already uses.
  mirror=$(grep -hoE '^(URIs:|deb) +https?://[^ ]+' /etc/apt/sources.list /etc/apt/sources.list.d/*.sources /etc/apt/sources.list.d/*.list 2>/dev/null | grep -v security | head -1 | awk '{print $2}' || true)
  mirror=${mirror:-http://deb.debian.org/debian}
  say "building $BASE with debootstrap from $mirror"
  root=$(mktemp -d)
  $SUDO debootstrap --variant=minbase bookworm "$root" "$mirror" >build/debootstrap.log 2>&1
  $SUDO rm -rf "$root"/var/cache/apt/archives/*.deb "$root"/var/lib/apt/lists/*
  $SUDO tar -C "$root" -c . | docker import - "$BASE" >/dev/null
  $SUDO rm -rf "$root"
fi

say "building wheels on the host (hash-checked against requirements.lock)"
rm -rf build/wheels && mkdir -p build/wheels
"$PIP" wheel --quiet --require-hashes -r requirements.lock -w build/wheels
"$PIP" wheel --quiet --no-deps -w build/wheels .

t0=$(date +%s%N)
docker build -q -t "$IMAGE" . >/dev/null
build_ms=$(( ($(date +%s%N) - t0) / 1000000 ))
docker build -q -t "$REDIS_IMAGE" -f deploy/redis.Dockerfile deploy >/dev/null
size=$(docker image inspect -f '{{.Size}}' "$IMAGE")

say "checks on the image: non-root, tini as PID 1, no build tools"
user=$(docker image inspect -f '{{.Config.User}}' "$IMAGE"); [ "$user" = app ]
docker image inspect -f '{{json .Config.Entrypoint}}' "$IMAGE" | grep -q '"tini"'
docker image inspect -f '{{json .Config.Healthcheck}}' "$IMAGE" | grep -q healthz
docker run --rm --entrypoint sh "$IMAGE" -c '! command -v gcc && ! command -v pip && ! python3 -c "import ensurepip" 2>/dev/null' >/dev/null

t0=$(date +%s%N)
"${DC[@]}" up -d >/dev/null 2>&1
for _ in $(seq 120); do
  curl -fsS http://127.0.0.1:8000/readyz >/dev/null 2>&1 && break; sleep 0.25
done
curl -fsS http://127.0.0.1:8000/readyz >/dev/null || { "${DC[@]}" logs --tail=50; exit 1; }
ready_ms=$(( ($(date +%s%N) - t0) / 1000000 ))
[ "$(docker inspect -f '{{.Config.User}}' "$PROJECT"_web_1)" = app ]

# send-test-event runs inside the web container; var/sandbox.json tells it the sandbox.
secret=$(grep ^CONSUMER_SANDBOX_SECRET= deploy/sandbox.env | cut -d= -f2-)
info="{\"secret\": \"$secret\", \"token\": \"sandbox-token\", \"sandbox_url\": \"http://sandbox:8025/v2\", \"web_url\": \"http://127.0.0.1:8000\", \"redis_url\": \"redis://redis:6379/0\"}"
send() { "${DC[@]}" exec -T web sh -c "mkdir -p var && printf '%s' '$info' > var/sandbox.json && zeeg-consumer send-test-event --json $*"; }
say "a signed test event in the sandbox profile"
out=$(send)
echo "$out" | python3 -c 'import json,sys; r=json.load(sys.stdin); assert r["event"]["status"] == "done", r; print("[image-test] event", r["event"].get("status"))'

say "SIGTERM to the worker during a slow DELETE (latency 3000 ms)"
SB=http://127.0.0.1:8025/_sandbox
curl -fsS -X PUT -H 'Content-Type: application/json' -d '{"latency_ms": 3000}' $SB/faults >/dev/null
out=$(send --no-wait)
record=$(echo "$out" | python3 -c 'import json,sys; print(json.load(sys.stdin)["record_id"])')
sleep 1.5
worker=$("${DC[@]}" ps -q worker)
killed_at=$(date +%s.%N)
docker kill -s SIGTERM "$worker" >/dev/null
code=$(docker wait "$worker")
curl -fsS -X PUT -H 'Content-Type: application/json' -d '{"latency_ms": 0}' $SB/faults >/dev/null
"${DC[@]}" start worker >/dev/null 2>&1
sleep 5
deletes=$(curl -fsS $SB/requests | python3 -c '
import json, sys
rows = [r for r in json.load(sys.stdin) if r["method"] == "DELETE" and r["path"].endswith("/" + sys.argv[1])]
killed = float(sys.argv[2])  # the DELETE answered 200 must have been in flight at the SIGTERM
inflight = [r for r in rows if r["status"] == 200 and r["at"] <= killed <= r["at"] + 3.0]
print(sum(r["status"] == 200 for r in rows), len(rows), len(inflight))' "$record" "$killed_at")
set -- $deletes
say "worker exit code $code; DELETEs of the record answered 200: $1 (of $2), in flight at the SIGTERM: $3"
[ "$1" = 1 ] && [ "$3" = 1 ] || { "${DC[@]}" logs --tail=80 worker; exit 1; }

printf '\nimage-test passed\n  build time     %s.%03d s\n  image size     %s MB\n  time to ready  %s.%03d s\n' \
  $((build_ms / 1000)) $((build_ms % 1000)) $((size / 1000000)) $((ready_ms / 1000)) $((ready_ms % 1000))
