# zeeg-consumer image. Python packages come from wheels built on the host by
# `make image-test` (or deploy/build-wheels.sh): pip runs with --no-index inside the build,
# so the build needs no PyPI access and no proxy CA; the lock's hashes are still checked.
ARG BASE_IMAGE=debian:bookworm-slim

FROM ${BASE_IMAGE} AS runtime-base
RUN apt-get update -qq \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends python3 tini \
 && rm -rf /var/lib/apt/lists/*

FROM runtime-base AS build
RUN apt-get update -qq \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends python3-venv \
 && rm -rf /var/lib/apt/lists/*
COPY requirements.lock /src/requirements.lock
COPY build/wheels /src/wheels
RUN python3 -m venv /opt/venv \
 && /opt/venv/bin/pip install --quiet --no-index --find-links /src/wheels \
        --require-hashes -r /src/requirements.lock \
 && /opt/venv/bin/pip install --quiet --no-index --no-deps /src/wheels/zeeg_consumer-*.whl \
 && /opt/venv/bin/pip uninstall --quiet -y pip setuptools

FROM runtime-base
RUN useradd --system --uid 10001 --user-group --home-dir /app --create-home app
COPY --from=build /opt/venv /opt/venv
COPY config /app/config
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PORT=8000 \
    CONSUMER_CONFIG=/app/config/consumer.toml
WORKDIR /app
USER app
EXPOSE 8000
HEALTHCHECK --interval=10s --timeout=3s --start-period=15s --retries=3 \
  CMD ["python3", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/healthz' % os.environ.get('PORT', '8000'), timeout=2)"]
ENTRYPOINT ["tini", "--", "zeeg-consumer"]
CMD ["web"]
