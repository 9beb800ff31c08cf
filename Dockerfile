# The orders binary in a small runtime image (docs/deployment.md).
#
#   docker build -t orders .
#   docker run -d -e ORDERS__AUTH__JWT_SECRET="$ORDERS_JWT_SECRET" -v orders-data:/data \
#       -p 127.0.0.1:8080:8080 orders
#
# The JWT secret comes from the environment at run time; it is never baked into the image.
#
# Stages: `runtime` is the image without its binary (base, user, volume, health check, entry
# point); `build` compiles the release binary; the last stage is `runtime` plus that binary.
# deploy/check-image builds `--target runtime` on a base it makes itself
# (`--build-arg RUNTIME_BASE=…`: no registry is reachable there) and adds a binary built on the
# host, so the stage it checks is this one. `runtime` comes first: the classic builder (as
# docker-compose 1.x uses) builds every stage up to its target, and must not need `rust` for it.

ARG RUNTIME_BASE=debian:bookworm-slim

FROM ${RUNTIME_BASE} AS runtime
RUN useradd --system --uid 10001 --user-group --home-dir /data --create-home orders
USER orders
WORKDIR /data
ENV ORDERS__SERVER__ADDR=0.0.0.0:8080 \
    ORDERS__DATABASE__URL=sqlite:///data/orders.db \
    XDG_DATA_HOME=/data
# The SQLite database (and the generated JWT secret, when none is configured) live here.
VOLUME /data
EXPOSE 8080
# `/readyz` over loopback (server.addr 0.0.0.0 is reached as 127.0.0.1): 200 only while the
# database answers. The start period covers migrations on a new database.
HEALTHCHECK --interval=10s --timeout=5s --start-period=30s --retries=3 CMD ["orders", "healthcheck"]
# SIGTERM drains in-flight requests for server.shutdown_grace (30s) and exits 0: give `docker
# stop` more than that (`--stop-timeout 40`, compose's stop_grace_period).
STOPSIGNAL SIGTERM
ENTRYPOINT ["orders"]
CMD ["serve"]

FROM rust:1.94-bookworm AS build
WORKDIR /src
# Dependencies first, so source edits do not rebuild them: the real manifest and lock file
# over a stand-in crate (documented, so the lint policy's missing_docs has nothing to say).
COPY Cargo.toml Cargo.lock build.rs ./
# Build settings (the bundled SQLite's compile options) apply to the dependencies too.
COPY .cargo .cargo
RUN mkdir -p src migrations/sqlite migrations/postgres \
    && printf '//! Stand-in: the dependencies are built before the sources are copied.\n' > src/lib.rs \
    && printf '//! Stand-in.\nfn main() {}\n' > src/main.rs \
    && cargo build --release --locked --bin orders
COPY migrations migrations
COPY orders.toml orders.toml
COPY src src
# The stand-in left newer-looking artefacts under the crate's own names (cargo names a package's
# artefacts by its path relative to the workspace, the same here): make sure it is rebuilt.
RUN touch src/main.rs src/lib.rs && cargo build --release --locked --bin orders

FROM runtime
COPY --from=build /src/target/release/orders /usr/local/bin/orders
