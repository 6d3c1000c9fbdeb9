# A container whose PID 1 is svscan on /etc/service (examples/container/service: one
# `essential` service with a logger). `docker stop` sends SIGTERM: svscan stops the
# service, then its logger, and exits 0 well within docker's 10 s. If the essential service
# fails for good, svscan exits with its exit code, and so does the container.
# tests/integration/test_container.py runs this ENTRYPOINT as PID 1 of a PID namespace.
#   docker build -t trio-supervise . && docker run --name sv trio-supervise   (docker stop sv)
FROM debian:bookworm-slim
RUN apt-get update \
    && apt-get install -y --no-install-recommends python3 python3-venv \
    && rm -rf /var/lib/apt/lists/*
COPY . /usr/src/trio-supervise
RUN python3 -m venv /opt/trio-supervise \
    && /opt/trio-supervise/bin/pip install --no-cache-dir /usr/src/trio-supervise \
    && rm -rf /usr/src/trio-supervise
ENV PATH=/opt/trio-supervise/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
COPY examples/container/service /etc/service
STOPSIGNAL SIGTERM
ENTRYPOINT ["svscan", "/etc/service"]
