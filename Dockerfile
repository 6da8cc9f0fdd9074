# Switchyard: a static binary on a minimal, non-root image.
#   docker build -t switchyard --build-arg VERSION=$(git describe --tags --always) .
#   docker run -p 8080:8080 -v switchyard:/data switchyard
FROM golang:1.26-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG VERSION=dev
RUN CGO_ENABLED=0 go build -trimpath \
      -ldflags "-s -w -X github.com/switchyardhq/switchyard/internal/app.Version=${VERSION}" \
      -o /out/switchyard ./cmd/switchyard \
 && mkdir -p /out/data

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/switchyard /switchyard
COPY --from=build --chown=65532:65532 /out/data /data
USER 65532:65532
ENV SWITCHYARD_ADDR=0.0.0.0:8080 \
    SWITCHYARD_DATABASE_URL=sqlite:///data/switchyard.db \
    SWITCHYARD_METRICS_ADDR=0.0.0.0:9464
VOLUME ["/data"]
EXPOSE 8080 9464
HEALTHCHECK --interval=10s --timeout=3s --start-period=10s --retries=3 \
  CMD ["/switchyard", "healthcheck", "--url", "http://127.0.0.1:8080/readyz"]
ENTRYPOINT ["/switchyard"]
CMD ["serve"]
