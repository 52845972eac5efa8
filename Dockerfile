# hark built on Debian 12 with the same packages scripts/setup.sh installs.
FROM debian:12-slim AS build
RUN apt-get update && apt-get install -y --no-install-recommends \
      build-essential cmake pkg-config python3 \
      libcurl4-openssl-dev libyajl-dev libpcre2-dev librdkafka-dev \
      libcmocka-dev libutf8proc-dev libcsv-dev libsqlite3-dev libhyperscan-dev \
      libicu-dev \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
RUN cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    && cmake --build build -j"$(nproc)" --target hark

FROM debian:12-slim
RUN apt-get update && apt-get install -y --no-install-recommends \
      libcurl4 libyajl2 libpcre2-8-0 librdkafka1 libutf8proc2 libcsv3 libhyperscan5 \
      libsqlite3-0 libicu72 \
      ca-certificates python3 \
    && rm -rf /var/lib/apt/lists/*
# The lexicons are looked up under HARK_LEXICON_DIR.
COPY --from=build /src/build/hark /usr/local/bin/hark
COPY rules /usr/share/hark/rules
COPY examples /usr/share/hark/examples
COPY tests/replay /usr/share/hark/tests/replay
COPY tests/data /usr/share/hark/tests/data
ENV HARK_LEXICON_DIR=/usr/share/hark/rules/lexicons
ENTRYPOINT ["hark"]
CMD ["--help"]
