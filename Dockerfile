# phoneauth's container image. Build it with `make image`, not with
# `docker build .`: no base image can be pulled, so the binary is built
# outside (CGO_ENABLED=0, static, -trimpath) into bin/image together with the
# CA roots and an empty data directory, and the image is FROM scratch.
#
#   docker run -p 8080:8080 -v phoneauth-data:/data phoneauth:latest
#
# Give it at least SHUTDOWN_TIMEOUT (15s) + 5s to stop (docker stop -t 20;
# Kubernetes' default grace period of 30s is enough): on SIGTERM it drains
# requests in flight, then closes the store.
FROM scratch
COPY ca-certificates.crt /etc/ssl/certs/ca-certificates.crt
# No /etc/passwd: a numeric non-root user, owning the data directory.
COPY --chown=65532:65532 data /data
COPY phoneauth /phoneauth
USER 65532:65532
ENV DATA_DIR=/data HTTP_ADDR=:8080
VOLUME ["/data"]
EXPOSE 8080
STOPSIGNAL SIGTERM
ENTRYPOINT ["/phoneauth"]
