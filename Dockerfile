# Smarketing in a container: the `smarketing` binary, run as a non-root user
# with its SQLite file in a volume. See docs/operations.md. CI has no
# container engine, so this file is not built in CI.

# Build. The locked dependencies need Rust 1.89 or newer; the image's gcc
# compiles the bundled SQLite (libsqlite3-sys).
FROM rust:1-bookworm AS builder
WORKDIR /src
COPY Cargo.toml Cargo.lock ./
COPY crates ./crates
RUN cargo build --release -p smarketing --locked \
 && install -m 0755 target/release/smarketing /usr/local/bin/smarketing

# Run.
FROM debian:bookworm-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --user-group --uid 10001 --home-dir /data --no-create-home \
      --shell /usr/sbin/nologin smarketing \
 && mkdir /data \
 && chown smarketing:smarketing /data
COPY --from=builder /usr/local/bin/smarketing /usr/local/bin/smarketing
USER smarketing
WORKDIR /data
ENV SMARKETING_DATABASE_URL=sqlite:///data/smarketing.db \
    SMARKETING_LISTEN=0.0.0.0:8080
VOLUME ["/data"]
EXPOSE 8080
# The server shuts down gracefully on SIGINT (Ctrl-C).
STOPSIGNAL SIGINT
CMD ["smarketing", "serve"]
