# Redis from Debian's package, for machines that cannot pull redis:7 (make image-test).
ARG BASE_IMAGE=debian:bookworm-slim
FROM ${BASE_IMAGE}
RUN apt-get update -qq \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends redis-server \
 && rm -rf /var/lib/apt/lists/* \
 && mkdir /data && chown redis:redis /data
USER redis
WORKDIR /data
EXPOSE 6379
# hash-max-listpack-value 256: job and event hashes stay compact listpacks (docs/redis.md).
CMD ["redis-server", "--hash-max-listpack-value", "256", "--bind", "0.0.0.0", "--protected-mode", "no"]
