# The image the Helm chart runs (charts/schedulerd): a static schedulerd on distroless, as the
# non-root user 65532 the chart's securityContext expects. Build: docker build -t schedulerd .
FROM golang:1.26 AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG VERSION=dev
RUN CGO_ENABLED=0 go build -trimpath -ldflags "-s -w -X github.com/schedulerd/schedulerd/internal/serve.version=${VERSION}" -o /out/schedulerd ./cmd/schedulerd

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/schedulerd /usr/local/bin/schedulerd
USER 65532:65532
# Where an embedded etcd keeps its data when no --etcd-endpoints are given (docker run).
WORKDIR /home/nonroot
EXPOSE 8080
ENTRYPOINT ["/usr/local/bin/schedulerd"]
# Listening beyond loopback needs --auth-tokens-file (or --insecure-no-auth): serve says so.
CMD ["serve", "--listen", "0.0.0.0:8080"]
