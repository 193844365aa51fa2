# syntax=docker/dockerfile:1
# The iter8 image: a static iter8 binary on a small base, run as a non-root
# user. Experiment pods (iter8 k launch) run `iter8 k run` in it.
#
#   docker build -t iter8.tools/iter8:v0.14.0 --build-arg VERSION=v0.14.0 .
#   docker buildx build --platform linux/amd64,linux/arm64 -t REGISTRY/iter8:TAG --push .
#
# Without Docker, hack/image builds iter8.tools/iter8:<version> (static bash
# and busybox instead of Alpine) as a docker archive; see the README's
# Kubernetes section.
ARG GO_VERSION=1.26.8
ARG ALPINE_VERSION=3.22

FROM --platform=$BUILDPLATFORM golang:${GO_VERSION}-alpine AS build
ARG TARGETOS
ARG TARGETARCH
ARG VERSION=v0.14.0
WORKDIR /src
COPY go.mod go.sum ./
RUN --mount=type=cache,target=/go/pkg/mod go mod download
COPY . .
# Static (no cgo), reproducible (-trimpath), the same build the tests run.
RUN --mount=type=cache,target=/go/pkg/mod --mount=type=cache,target=/root/.cache/go-build \
    CGO_ENABLED=0 GOOS=$TARGETOS GOARCH=$TARGETARCH \
    go build -trimpath -buildvcs=false -ldflags "-s -w -X iter8.tools/iter8/internal/version.Version=${VERSION}" \
      -o /out/iter8 ./cmd/iter8

FROM alpine:${ALPINE_VERSION}
# bash runs experiments' run: tasks; ca-certificates verifies https targets.
RUN apk add --no-cache bash ca-certificates \
 && adduser -D -H -s /sbin/nologin -u 65532 iter8
COPY --from=build /out/iter8 /usr/local/bin/iter8
# Numeric, so Kubernetes can enforce runAsNonRoot.
USER 65532:65532
WORKDIR /tmp
ENTRYPOINT ["iter8"]
CMD ["--help"]
