# The orders binary in a small runtime image.
#
#   docker build -t orders .
#   docker run -e ORDERS__AUTH__JWT_SECRET=... -e ORDERS__DATABASE__URL=postgres://... -p 8080:8080 orders
#
# The JWT secret comes from the environment at run time; it is never baked into the image.

FROM rust:1.94-bookworm AS build
WORKDIR /src
# Dependencies first, so source edits do not rebuild them.
COPY Cargo.toml Cargo.lock build.rs ./
# Build settings (the bundled SQLite's compile options) apply to the dependencies too.
COPY .cargo .cargo
RUN mkdir src && echo 'fn main() {}' > src/main.rs && echo '' > src/lib.rs \
    && mkdir -p migrations/sqlite migrations/postgres \
    && cargo build --release --locked || true
COPY migrations migrations
COPY orders.toml orders.toml
COPY src src
# The dummy build left newer-looking artefacts for the crate itself: make sure it is rebuilt.
RUN touch src/main.rs src/lib.rs && cargo build --release --locked --bin orders

FROM debian:bookworm-slim
RUN useradd --system --uid 10001 --home-dir /data --create-home orders
COPY --from=build /src/target/release/orders /usr/local/bin/orders
USER orders
WORKDIR /data
ENV ORDERS__SERVER__ADDR=0.0.0.0:8080 \
    ORDERS__DATABASE__URL=sqlite:///data/orders.db \
    XDG_DATA_HOME=/data
EXPOSE 8080
STOPSIGNAL SIGTERM
ENTRYPOINT ["orders"]
CMD ["serve"]
