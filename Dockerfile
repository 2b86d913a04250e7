# syntax=docker/dockerfile:1
# IronLB's container image: docker build -t ghcr.io/ironlb/ironlb:0.1.0 .
#
# The build stage compiles IronLB and its native addon and lays out the image's file system with the same
# script that builds the image without Docker (scripts/build-image): node and only the shared libraries
# it needs, the compiled JavaScript, the daemons' bundles, the production dependencies and the addon. The final image is that
# file system and nothing else (no shell, no package manager).
ARG NODE_IMAGE=node:20-bookworm

FROM ${NODE_IMAGE} AS build
WORKDIR /src
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json ./
COPY native/ native/
RUN npx --no-install node-gyp rebuild --directory native
COPY scripts/build-image.ts scripts/build-dist.ts scripts/
COPY src/ src/
RUN node --import tsx scripts/build-image.ts --rootfs /rootfs

FROM scratch
COPY --from=build /rootfs/ /
ENV PATH=/usr/local/bin:/usr/bin:/bin NODE_ENV=production IRONLB_DAEMON_BUNDLES=/app/dist IRONLB_NATIVE_ADDON=/app/native/build/Release/ironlb_native.node MALLOC_ARENA_MAX=1
WORKDIR /app
# The controller runs as this user; the speaker's DaemonSet runs the image as root with NET_RAW and
# NET_BIND_SERVICE only (see deploy/manifests/speaker.yaml).
USER 65532:65532
EXPOSE 7472/tcp 7473/tcp 7946/udp 9443/tcp
STOPSIGNAL SIGTERM
ENTRYPOINT ["/usr/local/bin/node", "/app/src/cli/main.js"]
